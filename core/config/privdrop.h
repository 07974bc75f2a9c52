/* privdrop.h - from root to the unprivileged posternd user, keeping only
 * CAP_NET_BIND_SERVICE (DESIGN.md section 2, "Privileges"). */
#ifndef POSTERN_CONFIG_PRIVDROP_H
#define POSTERN_CONFIG_PRIVDROP_H

/* When running as root (euid 0): looks user up, creates chown_dir (mkdir
 * -p, may be NULL) and gives it and its direct children to the user, then
 * becomes that user with only CAP_NET_BIND_SERVICE (permitted + effective).
 * A no-op returning 0 when not root. Returns 0, or -1 with *error_r.
 * Call before any thread is started. */
int privdrop_to_user(const char *user, const char *chown_dir, const char **error_r);

#endif

/* privdrop.c - drops root: posternd starts as root only to create its data
 * directory and keep the right to bind ports below 1024. It then runs as
 * POSTERN_USER with every capability gone but CAP_NET_BIND_SERVICE, so the
 * panel can move a listener to any port live, while the embedded PostgreSQL
 * (initdb refuses root) and every session run unprivileged. Capabilities are
 * set with the raw capset(2) syscall (no libcap). Dumpable stays default. */
#include "config/privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/str.h"

static char privdrop_err[512];

static int privdrop_fail(const char **error_r, const char *what, const char *arg)
{
	str_fmt(privdrop_err, sizeof(privdrop_err), "%s %s: %s", what, arg ? arg : "",
		strerror(errno));
	*error_r = privdrop_err;
	return -1;
}

/* Gives dir and its direct children to uid:gid (symlinks not followed). */
static int privdrop_chown_dir(const char *dir, uid_t uid, gid_t gid)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	if (fchown(dfd, uid, gid) < 0) {
		close(dfd);
		return -1;
	}
	int lfd = dup(dfd);
	DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (d == NULL) {
		if (lfd >= 0)
			close(lfd);
		close(dfd);
		return -1;
	}
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fchownat(dfd, e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			rc = -1;
	}
	closedir(d);
	close(dfd);
	return rc;
}

int privdrop_to_user(const char *user, const char *chown_dir, const char **error_r)
{
	if (geteuid() != 0)
		return 0;

	struct passwd pw, *res = NULL;
	char pwbuf[4096];
	int e = getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &res);
	if (e != 0 || res == NULL) {
		str_fmt(privdrop_err, sizeof(privdrop_err),
			"user %s does not exist (make run creates it)", user);
		*error_r = privdrop_err;
		return -1;
	}
	if (pw.pw_uid == 0) {
		str_fmt(privdrop_err, sizeof(privdrop_err),
			"user %s is root: POSTERN_USER must be an unprivileged user", user);
		*error_r = privdrop_err;
		return -1;
	}
	uid_t uid = pw.pw_uid;
	gid_t gid = pw.pw_gid;

	if (chown_dir != NULL) {
		if (fs_mkdirs(chown_dir, 0750) < 0)
			return privdrop_fail(error_r, "cannot create", chown_dir);
		if (privdrop_chown_dir(chown_dir, uid, gid) < 0)
			return privdrop_fail(error_r, "cannot chown", chown_dir);
	}

	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		return privdrop_fail(error_r, "prctl", "PR_SET_KEEPCAPS");
	if (setgroups(1, &gid) < 0)
		return privdrop_fail(error_r, "setgroups", user);
	if (setgid(gid) < 0)
		return privdrop_fail(error_r, "setgid", user);
	if (setuid(uid) < 0)
		return privdrop_fail(error_r, "setuid", user);

	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof(data));
	data[CAP_TO_INDEX(CAP_NET_BIND_SERVICE)].permitted = CAP_TO_MASK(CAP_NET_BIND_SERVICE);
	data[CAP_TO_INDEX(CAP_NET_BIND_SERVICE)].effective = CAP_TO_MASK(CAP_NET_BIND_SERVICE);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return privdrop_fail(error_r, "capset", "CAP_NET_BIND_SERVICE");
	prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);

	/* Paranoia: root must be gone for good. */
	if (setuid(0) == 0 || geteuid() == 0) {
		str_fmt(privdrop_err, sizeof(privdrop_err), "could not drop root privileges");
		*error_r = privdrop_err;
		return -1;
	}
	return 0;
}

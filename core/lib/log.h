/* log.h - one line per event on stderr, text or JSON (POSTERN_LOG_FORMAT).
 * Callers pass client data through str_printable() first; never secrets. */
#ifndef POSTERN_LIB_LOG_H
#define POSTERN_LIB_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* format: "text" or "json" (NULL = text); level: "debug|info|warn|error". */
void log_init(const char *format, const char *level);
/* mod is the subsystem ("smtp", "db", ...). Thread-safe: one write(2) a line. */
void log_msg(enum log_level lvl, const char *mod, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define log_debug(mod, ...) log_msg(LOG_DEBUG, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_INFO, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_WARN, mod, __VA_ARGS__)
#define log_error(mod, ...) log_msg(LOG_ERROR, mod, __VA_ARGS__)

#endif

/* log.c - the logger: one line per event on stderr, as text
 *   2026-11-21T22:43:00.123Z info smtp: message
 * or as one JSON object per line
 *   {"ts":"2026-11-21T22:43:00.123Z","level":"info","mod":"smtp","msg":"..."}
 * Each line is built in a bounded stack buffer (LOG_LINE_MAX, longer
 * messages are cut with "...") and written with one write(2) under a mutex,
 * so lines from the loop and the worker threads never interleave. Control
 * bytes are escaped so one event is always one line. */
#include "lib/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/str.h"

#define LOG_LINE_MAX 4096
#define LOG_MSG_MAX 3072

static enum log_level log_min_level = LOG_INFO;
static bool log_json;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_level_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *format, const char *level)
{
	log_json = format != NULL && str_caseeq(format, "json");
	log_min_level = LOG_INFO;
	if (level == NULL)
		return;
	if (str_caseeq(level, "debug"))
		log_min_level = LOG_DEBUG;
	else if (str_caseeq(level, "warn") || str_caseeq(level, "warning"))
		log_min_level = LOG_WARN;
	else if (str_caseeq(level, "error"))
		log_min_level = LOG_ERROR;
}

struct log_line {
	char buf[LOG_LINE_MAX];
	size_t len;
	bool cut;
};

static void log_put(struct log_line *l, const char *s, size_t n)
{
	/* Keep 5 bytes for "...", the JSON closing and the newline. */
	size_t room = sizeof(l->buf) - 8 - l->len;
	if (l->cut || n > room) {
		l->cut = true; /* all or nothing: never half an escape */
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void log_puts(struct log_line *l, const char *s)
{
	log_put(l, s, strlen(s));
}

/* Length of a valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t log_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned min;
	unsigned cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Appends msg escaped: for JSON per RFC 8259 (invalid UTF-8 becomes
 * U+FFFD), for text only control bytes as \xNN. */
static void log_put_escaped(struct log_line *l, const char *msg, bool json)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)msg;
	size_t n = strlen(msg);

	for (size_t i = 0; i < n && !l->cut;) {
		unsigned char c = s[i];
		char esc[8];
		if (c >= 0x80 && json) {
			size_t u = log_utf8_len(s + i, n - i);
			if (u == 0) {
				log_puts(l, "\\ufffd");
				i++;
			} else {
				log_put(l, (const char *)s + i, u);
				i += u;
			}
			continue;
		}
		if (json && (c == '"' || c == '\\')) {
			esc[0] = '\\';
			esc[1] = (char)c;
			log_put(l, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			if (json) {
				esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0';
				esc[4] = hex[c >> 4], esc[5] = hex[c & 0xf];
				log_put(l, esc, 6);
			} else {
				esc[0] = '\\', esc[1] = 'x';
				esc[2] = hex[c >> 4], esc[3] = hex[c & 0xf];
				log_put(l, esc, 4);
			}
		} else {
			log_put(l, (const char *)&c, 1);
		}
		i++;
	}
}

void log_msg(enum log_level lvl, const char *mod, const char *fmt, ...)
{
	char msg[LOG_MSG_MAX];
	char ts[96];
	struct timespec now;
	struct tm tm;
	struct log_line line;
	va_list ap;
	int saved_errno = errno;

	if (lvl < log_min_level)
		return;
	if ((unsigned)lvl > LOG_ERROR)
		lvl = LOG_ERROR;

	va_start(ap, fmt);
	int r = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r < 0)
		str_lcpy(msg, "(log format error)", sizeof(msg));
	bool msg_cut = r >= (int)sizeof(msg);

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (long)((unsigned long)now.tv_nsec / 1000000 % 1000));

	line.len = 0;
	line.cut = false;
	if (log_json) {
		log_puts(&line, "{\"ts\":\"");
		log_puts(&line, ts);
		log_puts(&line, "\",\"level\":\"");
		log_puts(&line, log_level_names[lvl]);
		log_puts(&line, "\",\"mod\":\"");
		log_put_escaped(&line, mod ? mod : "-", true);
		log_puts(&line, "\",\"msg\":\"");
		log_put_escaped(&line, msg, true);
		if (line.cut || msg_cut) {
			/* log_put kept room for this tail */
			memcpy(line.buf + line.len, "...", 3);
			line.len += 3;
		}
		memcpy(line.buf + line.len, "\"}\n", 3);
		line.len += 3;
	} else {
		log_puts(&line, ts);
		log_puts(&line, " ");
		log_puts(&line, log_level_names[lvl]);
		log_puts(&line, " ");
		log_put_escaped(&line, mod ? mod : "-", false);
		log_puts(&line, ": ");
		log_put_escaped(&line, msg, false);
		if (line.cut || msg_cut) {
			memcpy(line.buf + line.len, "...", 3);
			line.len += 3;
		}
		line.buf[line.len++] = '\n';
	}

	pthread_mutex_lock(&log_lock);
	size_t off = 0;
	while (off < line.len) {
		ssize_t w = write(STDERR_FILENO, line.buf + off, line.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	pthread_mutex_unlock(&log_lock);
	errno = saved_errno;
}

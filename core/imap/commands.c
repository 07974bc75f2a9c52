/* commands.c - the IMAP command table (STYLE rule 5): for each command the
 * states it is valid in (RFC 3501 section 6), whether it may run before
 * TLS on a STARTTLS listener, its minimum argument count and the function
 * that runs it; and the argument helpers the cmd_*.c files share
 * (sequence sets to UIDs, mailbox names in modified UTF-7, flag lists,
 * strings). Unknown commands, wrong states and bad arguments are BAD and
 * count against LIMIT_IMAP_ERRORS(_PREAUTH). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/mutf7.h"
#include "imap/session.h"
#include "lib/mem.h"

#define F_BEFORE_TLS (1u << 0)	/* allowed on a STARTTLS listener before STARTTLS */

struct imap_command {
	const char *name;
	unsigned states;
	unsigned flags;
	unsigned min_args;
	void (*run)(struct imap_session *s, const struct imap_cmd *cmd);
};

static void cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd)
{
	imap_cmd_fetch(s, cmd, false, cmd->args);
}

static void cmd_store(struct imap_session *s, const struct imap_cmd *cmd)
{
	imap_cmd_store(s, cmd, false, cmd->args);
}

static void cmd_copy(struct imap_session *s, const struct imap_cmd *cmd)
{
	imap_cmd_copy(s, cmd, false, cmd->args, false);
}

static void cmd_move(struct imap_session *s, const struct imap_cmd *cmd)
{
	imap_cmd_copy(s, cmd, false, cmd->args, true);
}

static void cmd_search(struct imap_session *s, const struct imap_cmd *cmd)
{
	imap_cmd_search(s, cmd, false, cmd->args);
}

static void cmd_sort(struct imap_session *s, const struct imap_cmd *cmd)
{
	imap_cmd_sort(s, cmd, false, cmd->args);
}

static void cmd_thread(struct imap_session *s, const struct imap_cmd *cmd)
{
	imap_cmd_thread(s, cmd, false, cmd->args);
}

#define ANY (IMAP_STATE_NOTAUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define AUTHED (IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define SEL IMAP_STATE_SELECTED

static const struct imap_command commands[] = {
	{ "CAPABILITY", ANY, F_BEFORE_TLS, 0, imap_cmd_capability },
	{ "NOOP", ANY, F_BEFORE_TLS, 0, imap_cmd_noop },
	{ "LOGOUT", ANY, F_BEFORE_TLS, 0, imap_cmd_logout },
	{ "ID", ANY, F_BEFORE_TLS, 1, imap_cmd_id },
	{ "STARTTLS", IMAP_STATE_NOTAUTH, F_BEFORE_TLS, 0, imap_cmd_starttls },
	/* LOGIN and AUTHENTICATE answer NO [PRIVACYREQUIRED] themselves */
	{ "LOGIN", IMAP_STATE_NOTAUTH, F_BEFORE_TLS, 2, imap_cmd_login },
	{ "AUTHENTICATE", IMAP_STATE_NOTAUTH, F_BEFORE_TLS, 1, imap_cmd_authenticate },
	{ "ENABLE", AUTHED, 0, 1, imap_cmd_enable },
	{ "NAMESPACE", AUTHED, 0, 0, imap_cmd_namespace },
	{ "LIST", AUTHED, 0, 2, imap_cmd_list_extended },
	{ "LSUB", AUTHED, 0, 2, imap_cmd_list },
	{ "CREATE", AUTHED, 0, 1, imap_cmd_create },
	{ "DELETE", AUTHED, 0, 1, imap_cmd_delete },
	{ "RENAME", AUTHED, 0, 2, imap_cmd_rename },
	{ "SUBSCRIBE", AUTHED, 0, 1, imap_cmd_subscribe },
	{ "UNSUBSCRIBE", AUTHED, 0, 1, imap_cmd_subscribe },
	{ "STATUS", AUTHED, 0, 2, imap_cmd_status },
	{ "SELECT", AUTHED, 0, 1, imap_cmd_select },
	{ "EXAMINE", AUTHED, 0, 1, imap_cmd_select },
	{ "APPEND", AUTHED, 0, 2, imap_cmd_append },
	{ "IDLE", AUTHED, 0, 0, imap_cmd_idle },
	{ "CHECK", SEL, 0, 0, imap_cmd_noop },
	{ "CLOSE", SEL, 0, 0, imap_cmd_close },
	{ "UNSELECT", SEL, 0, 0, imap_cmd_close },
	{ "EXPUNGE", SEL, 0, 0, imap_cmd_expunge },
	{ "FETCH", SEL, 0, 2, cmd_fetch },
	{ "STORE", SEL, 0, 3, cmd_store },
	{ "COPY", SEL, 0, 2, cmd_copy },
	{ "MOVE", SEL, 0, 2, cmd_move },
	{ "SEARCH", SEL, 0, 1, cmd_search },
	{ "SORT", SEL, 0, 3, cmd_sort },
	{ "THREAD", SEL, 0, 3, cmd_thread },
	{ "COMPRESS", AUTHED, 0, 1, imap_cmd_compress },
	{ "UID", SEL, 0, 2, imap_cmd_uid },
	/* imapa: RFC 9208 */
	{ "GETQUOTA", AUTHED, 0, 1, imap_cmd_getquota },
	{ "GETQUOTAROOT", AUTHED, 0, 1, imap_cmd_getquotaroot },
	{ "SETQUOTA", AUTHED, 0, 2, imap_cmd_setquota },
	/* imapa: RFC 5465 */
	{ "NOTIFY", AUTHED, 0, 1, imap_cmd_notify },
};

void imap_commands_dispatch(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_command *c = NULL;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, cmd->name) == 0) {
			c = &commands[i];
			break;
		}
	if (c == NULL) {
		imap_error(s, "BAD", "Unknown command");
		return;
	}
	if ((c->states & s->state) == 0) {
		imap_error(s, "BAD", "%s", s->state == IMAP_STATE_NOTAUTH ? "Log in first"
					   : s->state == IMAP_STATE_AUTH ? "No mailbox selected"
									  : "Already logged in");
		return;
	}
	if ((c->flags & F_BEFORE_TLS) == 0 && !imap_session_login_allowed(s)) {
		imap_error(s, "BAD", "[PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	if (cmd->n_args < c->min_args) {
		imap_error(s, "BAD", "Missing arguments");
		return;
	}
	c->run(s, cmd);
}

void imap_cmd_uid(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *a = &cmd->args[0];
	const struct imap_arg *rest = &cmd->args[1];

	if (imap_arg_atom_is(a, "FETCH") && cmd->n_args >= 3)
		imap_cmd_fetch(s, cmd, true, rest);
	else if (imap_arg_atom_is(a, "STORE") && cmd->n_args >= 4)
		imap_cmd_store(s, cmd, true, rest);
	else if (imap_arg_atom_is(a, "COPY") && cmd->n_args >= 3)
		imap_cmd_copy(s, cmd, true, rest, false);
	else if (imap_arg_atom_is(a, "MOVE") && cmd->n_args >= 3)
		imap_cmd_copy(s, cmd, true, rest, true);
	else if (imap_arg_atom_is(a, "SEARCH") && cmd->n_args >= 2)
		imap_cmd_search(s, cmd, true, rest);
	else if (imap_arg_atom_is(a, "SORT") && cmd->n_args >= 4)
		imap_cmd_sort(s, cmd, true, rest);
	else if (imap_arg_atom_is(a, "THREAD") && cmd->n_args >= 4)
		imap_cmd_thread(s, cmd, true, rest);
	else if (imap_arg_atom_is(a, "EXPUNGE") && cmd->n_args >= 2)
		imap_cmd_uid_expunge(s, cmd, rest);
	else
		imap_error(s, "BAD", "Unknown UID command or missing arguments");
}

/* ---------- argument helpers ---------- */

int imap_seqset_uids(struct imap_session *s, const struct imap_arg *arg, bool uid,
		     uint32_t **uids_r, size_t *n_r)
{
	struct imap_seqset *set = NULL;
	const char *err = NULL;
	uint32_t *out = NULL;
	size_t n = 0;

	*uids_r = NULL;
	*n_r = 0;
	if (arg->type != IMAP_ARG_ATOM || imap_seqset_parse(arg->str, arg->len, &set, &err) < 0) {
		imap_error(s, "BAD", "%s", err != NULL ? err : "Invalid sequence set");
		return -1;
	}
	if (set->searchres) {
		/* RFC 5182: the saved result, less what was expunged since */
		imap_seqset_free(&set);
		for (size_t i = 0; i < s->sel.n_saved; i++)
			if (imap_view_seq(s->sel.uids, s->sel.n, s->sel.saved[i]) != 0) {
				if (out == NULL)
					out = xcalloc(s->sel.n_saved, sizeof(*out));
				out[n++] = s->sel.saved[i];
			}
		*uids_r = out;
		*n_r = n;
		return 0;
	}
	if (uid) {
		uint32_t max = s->sel.n > 0 ? s->sel.uids[s->sel.n - 1] : 0;

		imap_seqset_resolve(set, max);
		for (size_t i = 0; i < s->sel.n; i++)
			if (imap_seqset_contains(set, s->sel.uids[i])) {
				if (out == NULL)
					out = xcalloc(s->sel.n, sizeof(*out));
				out[n++] = s->sel.uids[i];
			}
	} else {
		struct imap_seqset_iter it;
		uint32_t seq;

		imap_seqset_resolve(set, (uint32_t)s->sel.n);
		if (imap_seqset_last(set) > s->sel.n) {
			imap_seqset_free(&set);
			imap_error(s, "BAD", "Invalid message sequence number");
			return -1;
		}
		imap_seqset_iter_init(&it);
		while (imap_seqset_next(set, (uint32_t)s->sel.n, &it, &seq)) {
			if (out == NULL)
				out = xcalloc(s->sel.n, sizeof(*out));
			out[n++] = s->sel.uids[seq - 1];
		}
	}
	imap_seqset_free(&set);
	*uids_r = out;
	*n_r = n;
	return 0;
}

char *imap_mailbox_arg(struct imap_session *s, const struct imap_arg *arg)
{
	const char *str;
	size_t len;
	struct buf b;
	char *out;

	if (imap_arg_astring(arg, &str, &len) < 0 || len == 0 || len > LIMIT_IMAP_MAILBOX_NAME ||
	    memchr(str, '\0', len) != NULL) {
		imap_error(s, "BAD", "Invalid mailbox name");
		return NULL;
	}
	buf_init(&b, LIMIT_IMAP_MAILBOX_NAME * 2);
	if (len >= 5 && strncasecmp(str, "INBOX", 5) == 0 && (len == 5 || str[5] == '/')) {
		buf_append_str(&b, "INBOX");
		str += 5;
		len -= 5;
	}
	if (s->utf8) {
		/* RFC 6855 3: UTF-8 names as they are */
		if (!imap_mutf7_utf8_valid((const unsigned char *)str, len) ||
		    buf_append(&b, str, len) < 0 || buf_len(&b) > LIMIT_IMAP_MAILBOX_NAME) {
			buf_free(&b);
			imap_error(s, "BAD", "Invalid mailbox name (UTF-8 expected)");
			return NULL;
		}
	} else if (imap_mutf7_decode(str, len, &b) < 0 || buf_len(&b) > LIMIT_IMAP_MAILBOX_NAME) {
		buf_free(&b);
		imap_error(s, "BAD", "Invalid mailbox name (modified UTF-7 expected)");
		return NULL;
	}
	out = xstrndup((const char *)buf_data(&b), buf_len(&b));
	buf_free(&b);
	if (out[0] == '/' || strstr(out, "//") != NULL || out[strlen(out) - 1] == '/') {
		free(out);
		imap_error(s, "BAD", "Invalid mailbox name");
		return NULL;
	}
	return out;
}

void imap_astring_write(struct buf *b, const char *str, size_t len)
{
	bool quote = len < 1024;

	for (size_t i = 0; i < len && quote; i++) {
		unsigned char c = (unsigned char)str[i];

		if (c == 0 || c == '\r' || c == '\n' || c >= 0x80)
			quote = false;
	}
	if (!quote) {
		buf_printf(b, "{%zu}\r\n", len);
		buf_append(b, str, len);
		return;
	}
	buf_append_str(b, "\"");
	for (size_t i = 0; i < len; i++) {
		if (str[i] == '"' || str[i] == '\\')
			buf_append_str(b, "\\");
		buf_append(b, &str[i], 1);
	}
	buf_append_str(b, "\"");
}

int imap_mailbox_write(struct buf *b, const char *name)
{
	struct buf m;

	buf_init(&m, LIMIT_IMAP_MAILBOX_NAME * 4);
	if (imap_mutf7_encode(name, strlen(name), &m) < 0) {
		buf_free(&m);
		return -1;
	}
	imap_astring_write(b, (const char *)buf_data(&m), buf_len(&m));
	buf_free(&m);
	return 0;
}

int imap_mailbox_out(const struct imap_session *s, struct buf *b, const char *name)
{
	size_t len = strlen(name);

	if (!s->utf8)
		return imap_mailbox_write(b, name);
	if (!imap_mutf7_utf8_valid((const unsigned char *)name, len))
		return -1;
	/* a quoted string may carry UTF-8 once it is enabled (RFC 6855 3) */
	buf_append_str(b, "\"");
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '"' || name[i] == '\\')
			buf_append_str(b, "\\");
		buf_append(b, &name[i], 1);
	}
	return buf_append_str(b, "\"");
}

static int flag_bit(const char *f)
{
	static const struct {
		const char *name;
		int bit;
	} sys[] = {
		{ "\\Seen", IMAP_FLAG_SEEN },	    { "\\Answered", IMAP_FLAG_ANSWERED },
		{ "\\Flagged", IMAP_FLAG_FLAGGED }, { "\\Deleted", IMAP_FLAG_DELETED },
		{ "\\Draft", IMAP_FLAG_DRAFT },	    { "\\Recent", 0 },
	};

	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if (strcasecmp(f, sys[i].name) == 0)
			return sys[i].bit;
	return -1;
}

int imap_flags_parse(const struct imap_arg *arg, int *flags_r, char **keywords_r,
		     const char **error_r)
{
	const struct imap_arg *list = arg;
	unsigned n = 1;
	struct buf kw;

	*flags_r = 0;
	*keywords_r = NULL;
	if (arg->type == IMAP_ARG_LIST) {
		list = arg->list;
		n = arg->list_count;
	}
	buf_init(&kw, 64 * 1024);
	buf_append_str(&kw, "{");
	for (unsigned i = 0; i < n; i++) {
		const struct imap_arg *a = &list[i];

		if (a->type != IMAP_ARG_ATOM) {
			buf_free(&kw);
			*error_r = "Invalid flag";
			return -1;
		}
		if (a->str[0] == '\\') {
			int bit = flag_bit(a->str);

			if (bit < 0) {
				buf_free(&kw);
				*error_r = "Unknown system flag";
				return -1;
			}
			*flags_r |= bit;
			continue;
		}
		for (size_t k = 0; k < a->len; k++)
			if (strchr("(){%*\"\\]", a->str[k]) != NULL ||
			    (unsigned char)a->str[k] <= 0x20 || (unsigned char)a->str[k] >= 0x7f) {
				buf_free(&kw);
				*error_r = "Invalid keyword";
				return -1;
			}
		if (buf_len(&kw) > 1)
			buf_append_str(&kw, ",");
		if (buf_printf(&kw, "\"%s\"", a->str) < 0) {
			buf_free(&kw);
			*error_r = "Too many keywords";
			return -1;
		}
	}
	if (buf_append_str(&kw, "}") < 0) {
		buf_free(&kw);
		*error_r = "Too many keywords";
		return -1;
	}
	*keywords_r = xstrndup((const char *)buf_data(&kw), buf_len(&kw));
	buf_free(&kw);
	return 0;
}

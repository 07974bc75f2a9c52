/* commands.c - the POP3 verb table (STYLE rule 5): for each verb the states
 * it is valid in (RFC 1939 sections 4-6), whether it may be used before TLS
 * on a STARTTLS listener (RFC 2595 section 4, DESIGN.md section 6: "-ERR
 * [AUTH]"), its argument count, and the function that runs it. Wrong state,
 * wrong arity and unknown verbs count as errors (LIMIT_POP3_ERRORS). */
#include <string.h>

#include "pop3/session.h"

#define F_BEFORE_TLS (1u << 0)	/* allowed on a STARTTLS listener before STLS */

#define ARGS_REST (-1)	/* no upper bound: the command reads cmd->rest */

struct pop3_command {
	const char *verb;
	unsigned states;	/* enum pop3_state bits */
	unsigned flags;
	int min_args;
	int max_args;
	void (*run)(struct pop3_session *s, const struct pop3_cmd *cmd);
};

#define ANY_STATE (POP3_STATE_AUTH | POP3_STATE_TRANS)

static const struct pop3_command commands[] = {
	{ "CAPA", ANY_STATE, F_BEFORE_TLS, 0, 0, pop3_cmd_capa },
	{ "QUIT", ANY_STATE, F_BEFORE_TLS, 0, 0, pop3_cmd_quit },
	{ "STLS", POP3_STATE_AUTH, F_BEFORE_TLS, 0, 0, pop3_cmd_stls },
	{ "USER", POP3_STATE_AUTH, 0, 1, 1, pop3_cmd_user },
	{ "PASS", POP3_STATE_AUTH, 0, 1, ARGS_REST, pop3_cmd_pass },
	{ "AUTH", POP3_STATE_AUTH, 0, 0, 2, pop3_cmd_auth },
	{ "STAT", POP3_STATE_TRANS, 0, 0, 0, pop3_cmd_stat },
	{ "LIST", POP3_STATE_TRANS, 0, 0, 1, pop3_cmd_list },
	{ "UIDL", POP3_STATE_TRANS, 0, 0, 1, pop3_cmd_uidl },
	{ "RETR", POP3_STATE_TRANS, 0, 1, 1, pop3_cmd_retr },
	{ "TOP", POP3_STATE_TRANS, 0, 2, 2, pop3_cmd_top },
	{ "DELE", POP3_STATE_TRANS, 0, 1, 1, pop3_cmd_dele },
	{ "NOOP", POP3_STATE_TRANS, 0, 0, 0, pop3_cmd_noop },
	{ "RSET", POP3_STATE_TRANS, 0, 0, 0, pop3_cmd_rset },
};

static const struct pop3_command *command_find(const char *verb)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].verb, verb) == 0)
			return &commands[i];
	return NULL;
}

void pop3_commands_dispatch(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	const struct pop3_command *c = command_find(cmd->verb);

	if (c == NULL) {
		pop3_session_error(s, "-ERR unknown command");
		return;
	}
	if ((c->states & s->state) == 0) {
		pop3_session_error(s, "-ERR command not valid in this state");
		return;
	}
	if ((c->flags & F_BEFORE_TLS) == 0 && !pop3_session_login_allowed(s)) {
		pop3_session_error(s, "-ERR [AUTH] TLS required: use STLS");
		return;
	}
	if (cmd->n_args < (size_t)c->min_args ||
	    (c->max_args != ARGS_REST && cmd->n_args > (size_t)c->max_args)) {
		pop3_session_error(s, "-ERR syntax error");
		return;
	}
	c->run(s, cmd);
}

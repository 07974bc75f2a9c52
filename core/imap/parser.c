/* parser.c - reads IMAP commands: RFC 9051 section 9 / RFC 3501 section 9
 * grammar (tag, atoms, quoted strings, literals, lists, FETCH sections),
 * RFC 7888 LITERAL+/LITERAL- and RFC 3516 literal8.
 *
 * Bytes are gathered one line at a time into a buffer capped at max_line;
 * a complete line is tokenised into argument nodes held in a per-command
 * arena whose bytes are capped at max_command (plus node overhead bounded
 * by max_args). A literal ending a line is reported before any of its
 * bytes is read. After an error the rest of the command is skipped with no
 * memory held: lines to their LF, and the bytes of {n+} literals. */
#include "imap/parser.h"

#include <stdlib.h>
#include <string.h>

#include "imap/mutf7.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"

#define DEPTH_HARD_MAX	64	/* params.max_list_depth is clamped to this */
#define TAIL_MAX	24	/* "~{" + 20 digits + "+}" */
#define CHUNK_MIN	4096

enum state {
	ST_LINE = 0,		/* gathering a line */
	ST_LITERAL_WAIT,	/* announced, waiting for accept/take/refuse */
	ST_LITERAL_READ,	/* reading an accepted literal into the arena */
	ST_SKIP_LINE,		/* discarding to LF (after an error) */
	ST_SKIP_LITERAL,	/* discarding the bytes of a {n+} literal */
	ST_RAW_SKIP,		/* imap_parser_read_line: discarding an overlong line */
	ST_CLOSED,		/* a fatal error was reported */
};

struct chunk {
	struct chunk *next;
	size_t size, used;
	unsigned char data[];
};

/* An argument while the command is being built; lists keep children in a
 * linked list and become arrays when the command is complete. */
struct node {
	struct imap_arg arg;
	struct node *next, *first, *last;
	unsigned int count;
};

struct imap_parser {
	struct imap_parser_params params;
	enum state state;
	struct buf line;		/* the line being gathered */
	size_t line_max;		/* max_line for the line in progress */

	struct chunk *arena;		/* newest first */
	bool release;			/* free the arena at the next read */

	/* the command in progress */
	bool in_command;
	bool after_literal;		/* the line continues after a literal */
	const char *tag, *name;
	size_t cmd_bytes;		/* lines + accepted literals */
	unsigned int n_args;		/* all nodes, nested ones included */
	struct node *stack[DEPTH_HARD_MAX + 1];	/* stack[0] is the top level */
	unsigned int depth;

	/* the literal announced or being read */
	struct imap_literal lit;
	unsigned char *lit_data;
	uint64_t lit_have;

	/* skipping */
	uint64_t skip_left;
	unsigned char tail[TAIL_MAX];
	size_t tail_len;

	struct imap_parser_error fatal;
};

/* ---------- arena ---------- */

static void *arena_alloc(struct imap_parser *p, size_t n)
{
	struct chunk *c = p->arena;
	size_t off;

	n = (n + 7) & ~(size_t)7;
	if (c == NULL || c->size - c->used < n) {
		size_t size = n > CHUNK_MIN ? n : CHUNK_MIN;

		c = xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		c->next = p->arena;
		p->arena = c;
	}
	off = c->used;
	c->used += n;
	return c->data + off;
}

static char *arena_strdup(struct imap_parser *p, const char *s, size_t len)
{
	char *d = arena_alloc(p, len + 1);

	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

/* Frees every chunk but one small one, kept for the next command. */
static void arena_clear(struct imap_parser *p, bool all)
{
	struct chunk *c = p->arena, *keep = NULL;

	while (c != NULL) {
		struct chunk *next = c->next;

		if (!all && keep == NULL && c->size == CHUNK_MIN) {
			keep = c;
			keep->used = 0;
			keep->next = NULL;
		} else {
			free(c);
		}
		c = next;
	}
	p->arena = keep;
}

/* ---------- setup ---------- */

void imap_parser_params_default(struct imap_parser_params *params, bool authenticated)
{
	memset(params, 0, sizeof(*params));
	params->max_line = authenticated ? LIMIT_IMAP_LINE : LIMIT_IMAP_LINE_PREAUTH;
	params->max_command = authenticated ? LIMIT_IMAP_COMMAND : LIMIT_IMAP_COMMAND_PREAUTH;
	params->max_literal = authenticated ? LIMIT_IMAP_LITERAL : LIMIT_IMAP_LITERAL_PREAUTH;
	params->max_list_depth = authenticated ? LIMIT_IMAP_LIST_DEPTH : LIMIT_IMAP_LIST_DEPTH_PREAUTH;
	params->max_args = authenticated ? LIMIT_IMAP_ARGS : LIMIT_IMAP_ARGS_PREAUTH;
}

void imap_parser_set_params(struct imap_parser *p, const struct imap_parser_params *params)
{
	p->params = *params;
	if (p->params.max_line < 3)
		p->params.max_line = 3;
	if (p->params.max_list_depth > DEPTH_HARD_MAX)
		p->params.max_list_depth = DEPTH_HARD_MAX;
	if (p->params.max_args == 0)
		p->params.max_args = 1;
	if (!imap_parser_busy(p)) {
		p->line_max = p->params.max_line;
		p->line.max = p->line_max;
	}
}

struct imap_parser *imap_parser_create(const struct imap_parser_params *params)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	buf_init(&p->line, params->max_line);
	imap_parser_set_params(p, params);
	return p;
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	buf_free(&p->line);
	arena_clear(p, true);
	free(p);
	*pp = NULL;
}

static void command_reset(struct imap_parser *p)
{
	p->in_command = false;
	p->after_literal = false;
	p->tag = NULL;
	p->name = NULL;
	p->cmd_bytes = 0;
	p->n_args = 0;
	p->depth = 0;
	p->stack[0] = NULL;
	p->lit_data = NULL;
	p->lit_have = 0;
	memset(&p->lit, 0, sizeof(p->lit));
	p->line_max = p->params.max_line;
	p->line.max = p->line_max;
}

void imap_parser_reset(struct imap_parser *p)
{
	command_reset(p);
	buf_reset(&p->line);
	arena_clear(p, false);
	p->release = false;
	p->state = ST_LINE;
	p->skip_left = 0;
	p->tail_len = 0;
}

bool imap_parser_busy(const struct imap_parser *p)
{
	return p->in_command || p->state != ST_LINE || buf_len(&p->line) > 0;
}

void imap_parser_shrink(struct imap_parser *p)
{
	if (p->in_command || p->state == ST_LITERAL_WAIT || p->state == ST_LITERAL_READ)
		return;
	if (buf_len(&p->line) == 0)
		buf_shrink(&p->line);
	arena_clear(p, true);
	p->release = false;
}

/* ---------- errors ---------- */

static int error_at(struct imap_parser *p, struct imap_cmd *cmd, const char *code, const char *text)
{
	cmd->tag = p->tag;
	cmd->error.reply = IMAP_REPLY_BAD;
	cmd->error.code = code;
	cmd->error.text = text;
	cmd->error.close = false;
	p->release = true;
	return IMAP_PARSE_ERROR;
}

static int fatal_at(struct imap_parser *p, struct imap_cmd *cmd, const char *text)
{
	cmd->tag = p->tag;
	cmd->error.reply = IMAP_REPLY_BYE;
	cmd->error.code = NULL;
	cmd->error.text = text;
	cmd->error.close = true;
	p->fatal = cmd->error;
	p->state = ST_CLOSED;
	p->release = true;
	return IMAP_PARSE_ERROR;
}

/* Looks for "{n}", "{n+}" or "~{n}" at the end of s[0..len) (a line
 * without its CRLF). Returns 1 and the size when one is there and its size
 * fits, 0 when there is none, -1 for a size that does not fit in 63 bits. */
static int literal_suffix(const unsigned char *s, size_t len, uint64_t *size_r, bool *nonsync_r,
			  size_t *start_r)
{
	size_t end, i;

	if (len < 3 || s[len - 1] != '}')
		return 0;
	end = len - 1;
	*nonsync_r = s[end - 1] == '+';
	if (*nonsync_r)
		end--;
	i = end;
	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9' && end - i <= 20)
		i--;
	if (i == end || i == 0 || s[i - 1] != '{')
		return 0;
	*start_r = i - 1;
	if (strnum_u64((const char *)s + i, end - i, INT64_MAX, size_r) < 0)
		return -1;
	return 1;
}

/* The rest of the command is skipped: the line that ended at the LF just
 * consumed (s[0..len) without CRLF) may announce a literal. */
static void skip_after_line(struct imap_parser *p, const unsigned char *s, size_t len)
{
	uint64_t size;
	bool nonsync;
	size_t start;

	command_reset(p);
	p->tail_len = 0;
	int r = literal_suffix(s, len, &size, &nonsync, &start);

	if (r != 0 && nonsync) {
		/* The client sends the bytes anyway: skip them (no memory is
		 * held; a size past 2^63 never ends, the timeout does). */
		p->skip_left = r < 0 ? UINT64_MAX : size;
		p->state = p->skip_left > 0 ? ST_SKIP_LITERAL : ST_SKIP_LINE;
	} else {
		/* none, or {n}: the client waits for a "+" it will not get. */
		p->state = ST_LINE;
	}
}

/* ---------- character classes (RFC 9051 section 9) ---------- */

static bool is_atom_char(unsigned char c)
{
	/* ATOM-CHAR plus resp-specials ']' (astring), list-wildcards '%' '*'
	 * (LIST patterns) and '\' (flags): what Dovecot reads as atoms too. */
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

static bool is_tag_char(unsigned char c)
{
	return is_atom_char(c) && c != '+' && c != '%' && c != '*' && c != '\\';
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static bool word_eq(const unsigned char *s, size_t len, const char *word)
{
	return strlen(word) == len && str_casestarts((const char *)s, len, word);
}

/* ---------- building the tree ---------- */

static struct node *node_add(struct imap_parser *p, enum imap_arg_type type)
{
	struct node *parent = p->stack[p->depth];
	struct node *n;

	if (p->n_args >= p->params.max_args)
		return NULL;
	p->n_args++;
	n = arena_alloc(p, sizeof(*n));
	memset(n, 0, sizeof(*n));
	n->arg.type = type;
	if (parent->last == NULL)
		parent->first = n;
	else
		parent->last->next = n;
	parent->last = n;
	parent->count++;
	return n;
}

/* Turns parent's children into an EOL-terminated array. */
static const struct imap_arg *node_finish(struct imap_parser *p, const struct node *parent,
					  unsigned int *count_r)
{
	struct imap_arg *a = arena_alloc(p, (parent->count + 1) * sizeof(*a));
	const struct node *n;
	unsigned int i = 0;

	for (n = parent->first; n != NULL; n = n->next, i++) {
		a[i] = n->arg;
		if (n->arg.type == IMAP_ARG_LIST)
			a[i].list = node_finish(p, n, &a[i].list_count);
	}
	memset(&a[i], 0, sizeof(a[i]));
	*count_r = parent->count;
	return a;
}

/* ---------- FETCH sections ---------- */

static const struct {
	const char *word;
	enum imap_fetch_kind kind;
} section_words[] = {
	{ "BODY", IMAP_FETCH_BODY },
	{ "BODY.PEEK", IMAP_FETCH_BODY_PEEK },
	{ "BINARY", IMAP_FETCH_BINARY },
	{ "BINARY.PEEK", IMAP_FETCH_BINARY_PEEK },
	{ "BINARY.SIZE", IMAP_FETCH_BINARY_SIZE },
};

static int section_word(const unsigned char *s, size_t len, enum imap_fetch_kind *kind_r)
{
	for (size_t i = 0; i < sizeof(section_words) / sizeof(section_words[0]); i++) {
		if (word_eq(s, len, section_words[i].word)) {
			*kind_r = section_words[i].kind;
			return 0;
		}
	}
	return -1;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")", names are
 * astrings (atoms or quoted strings here). s[0..len) starts at '('. */
static const char *parse_fields(struct imap_parser *p, const unsigned char *s, size_t len,
				struct imap_section *sec)
{
	const char **fields;
	size_t i = 1, max = len / 2 + 1, n = 0;

	if (len < 3 || s[0] != '(' || s[len - 1] != ')')
		return "Invalid header field list in section";
	fields = arena_alloc(p, max * sizeof(*fields));
	len--;
	while (i < len) {
		size_t start = i;

		if (n > 0) {
			if (s[i] != ' ')
				return "Invalid header field list in section";
			start = ++i;
		}
		if (i < len && s[i] == '"') {
			size_t end = i + 1, k = 0;
			char *d;

			while (end < len && s[end] != '"')
				end += s[end] == '\\' ? 2 : 1;
			d = arena_alloc(p, end - i + 1);

			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				d[k++] = (char)s[i];
			}
			if (i == len || k == 0)
				return "Invalid header field name in section";
			d[k] = '\0';
			i++;
			fields[n++] = d;
		} else {
			while (i < len && is_atom_char(s[i]) && s[i] != ':')
				i++;
			if (i == start)
				return "Invalid header field name in section";
			fields[n++] = arena_strdup(p, (const char *)s + start, i - start);
		}
	}
	if (n == 0)
		return "Empty header field list in section";
	sec->fields = fields;
	sec->n_fields = (unsigned int)n;
	return NULL;
}

/* section-spec (RFC 9051 section 9) in s[0..len), the text between the
 * brackets. Returns NULL or what is wrong. */
static const char *parse_section_spec(struct imap_parser *p, const unsigned char *s, size_t len,
				      struct imap_section *sec)
{
	size_t i = 0;
	bool binary = sec->kind >= IMAP_FETCH_BINARY;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		size_t start = i;
		uint64_t v;

		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (s[start] == '0' || strnum_u64((const char *)s + start, i - start, UINT32_MAX, &v) < 0)
			return "Invalid part number in section";
		if (sec->n_parts == IMAP_SECTION_PARTS_MAX)
			return "Too many part numbers in section";
		sec->parts[sec->n_parts++] = (uint32_t)v;
		if (i == len)
			return NULL;
		if (s[i] != '.')
			return "Invalid section";
		i++;
		if (i == len)
			return "Invalid section";
	}
	if (i == len)
		return NULL;
	if (binary)
		return "BINARY takes only part numbers";
	size_t w = i;
	while (w < len && s[w] != ' ')
		w++;
	if (word_eq(s + i, w - i, "HEADER")) {
		sec->text = IMAP_SECTION_HEADER;
	} else if (word_eq(s + i, w - i, "TEXT")) {
		sec->text = IMAP_SECTION_TEXT;
	} else if (word_eq(s + i, w - i, "MIME") && sec->n_parts > 0) {
		sec->text = IMAP_SECTION_MIME;
	} else if (word_eq(s + i, w - i, "HEADER.FIELDS")) {
		sec->text = IMAP_SECTION_HEADER_FIELDS;
	} else if (word_eq(s + i, w - i, "HEADER.FIELDS.NOT")) {
		sec->text = IMAP_SECTION_HEADER_FIELDS_NOT;
	} else {
		return "Unknown section text";
	}
	if (sec->text != IMAP_SECTION_HEADER_FIELDS && sec->text != IMAP_SECTION_HEADER_FIELDS_NOT)
		return w == len ? NULL : "Invalid section";
	if (w + 1 >= len)
		return "Missing header field list in section";
	return parse_fields(p, s + w + 1, len - w - 1, sec);
}

/* "<" number "." nz-number ">" at s[0..len). Returns bytes used or 0. */
static size_t parse_partial(const unsigned char *s, size_t len, struct imap_section *sec)
{
	size_t i = 1, a, b;

	if (len < 5 || s[0] != '<')
		return 0;
	a = i;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == a || i >= len || s[i] != '.' ||
	    strnum_u64((const char *)s + a, i - a, INT64_MAX, &sec->partial_offset) < 0)
		return 0;
	b = ++i;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == b || i >= len || s[i] != '>' ||
	    strnum_u64((const char *)s + b, i - b, INT64_MAX, &sec->partial_length) < 0 ||
	    sec->partial_length == 0)
		return 0;
	sec->partial = true;
	return i + 1;
}

/* A section argument starting at s[start] (the keyword) with its '[' at
 * s[open]. On success returns NULL and sets *end_r past the argument. */
static const char *read_section(struct imap_parser *p, const unsigned char *s, size_t len,
				size_t start, size_t open, enum imap_fetch_kind kind,
				size_t *end_r)
{
	struct imap_section *sec;
	struct node *n;
	size_t i = open + 1, close;
	bool quoted = false;
	const char *err;

	for (; i < len; i++) {
		if (quoted) {
			if (s[i] == '\\' && i + 1 < len)
				i++;
			else if (s[i] == '"')
				quoted = false;
		} else if (s[i] == '"') {
			quoted = true;
		} else if (s[i] == ']') {
			break;
		} else if (s[i] == '[' || s[i] == '{' || s[i] >= 0x80 || s[i] < 0x20) {
			/* XXX: header field names as literals are not supported. */
			return "Invalid character in section";
		}
	}
	if (i == len)
		return "Missing ] in section";
	close = i++;
	sec = arena_alloc(p, sizeof(*sec));
	memset(sec, 0, sizeof(*sec));
	sec->kind = kind;
	sec->spec = arena_strdup(p, (const char *)s + open + 1, close - open - 1);
	err = parse_section_spec(p, s + open + 1, close - open - 1, sec);
	if (err != NULL)
		return err;
	if (i < len && s[i] == '<') {
		size_t used = kind == IMAP_FETCH_BINARY_SIZE ? 0 : parse_partial(s + i, len - i, sec);

		if (used == 0)
			return "Invalid partial range";
		i += used;
	}
	if (i < len && s[i] != ' ' && s[i] != ')')
		return "Invalid characters after section";
	n = node_add(p, IMAP_ARG_SECTION);
	if (n == NULL)
		return "Too many arguments";
	n->arg.str = arena_strdup(p, (const char *)s + start, i - start);
	n->arg.len = i - start;
	n->arg.section = sec;
	*end_r = i;
	return NULL;
}

/* ---------- one line ---------- */

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE; s[i] is the opening quote. */
static const char *read_quoted(struct imap_parser *p, const unsigned char *s, size_t len, size_t *i_r)
{
	size_t i = *i_r + 1, k = 0, end = i;
	char *d;
	struct node *n;

	while (end < len && s[end] != '"')
		end += s[end] == '\\' ? 2 : 1;
	if (end >= len)
		return "Missing \" at the end of a quoted string";
	d = arena_alloc(p, end - i + 1);
	for (; i < len && s[i] != '"'; i++) {
		unsigned char c = s[i];

		if (c == '\\') {
			if (i + 1 == len || (s[i + 1] != '\\' && s[i + 1] != '"'))
				return "Invalid escape in quoted string";
			c = s[++i];
		} else if (c >= 0x80 && !p->params.utf8) {
			return "8-bit characters in quoted string, use a literal";
		} else if (c < 0x20 || c == 0x7f) {
			return "Control characters in quoted string";
		}
		d[k++] = (char)c;
	}
	if (i == len)
		return "Missing \" at the end of a quoted string";
	d[k] = '\0';
	if (p->params.utf8 && !imap_mutf7_utf8_valid((const unsigned char *)d, k))
		return "Invalid UTF-8 in quoted string";
	n = node_add(p, IMAP_ARG_STRING);
	if (n == NULL)
		return "Too many arguments";
	n->arg.str = d;
	n->arg.len = k;
	*i_r = i + 1;
	return NULL;
}

/* Tokenises the arguments in s[i..len) into the tree. Returns NULL with
 * *lit_r set when the line ends in a literal announcement (its start in
 * *lit_start_r), or what is wrong. */
static const char *read_args(struct imap_parser *p, const unsigned char *s, size_t len, size_t i,
			     bool *lit_r)
{
	bool need_sep = p->after_literal;

	*lit_r = false;
	while (i < len) {
		unsigned char c = s[i];
		struct node *n;

		if (c == ' ') {
			need_sep = false;
			i++;
			continue;
		}
		if (c == ')') {
			if (p->depth == 0)
				return "Unexpected )";
			p->depth--;
			need_sep = true;
			i++;
			continue;
		}
		if (need_sep)
			return "Missing space between arguments";
		need_sep = true;
		if (c == '(') {
			if (p->depth >= p->params.max_list_depth)
				return "Too deep nesting of lists";
			n = node_add(p, IMAP_ARG_LIST);
			if (n == NULL)
				return "Too many arguments";
			p->stack[++p->depth] = n;
			need_sep = false;
			i++;
		} else if (c == '"') {
			const char *err = read_quoted(p, s, len, &i);

			if (err != NULL)
				return err;
		} else if (c == '{' || (c == '~' && i + 1 < len && s[i + 1] == '{')) {
			uint64_t size;
			bool nonsync;
			size_t start;
			int r = literal_suffix(s, len, &size, &nonsync, &start);

			if (r == 0 || start != i + (c == '~'))
				return "Invalid literal (only at the end of a line)";
			p->lit.size = r < 0 ? UINT64_MAX : size;
			p->lit.sync = !nonsync;
			p->lit.literal8 = c == '~';
			*lit_r = true;
			return NULL;
		} else {
			size_t start = i, end;
			enum imap_fetch_kind kind;

			while (i < len && is_atom_char(s[i]) && s[i] != '[')
				i++;
			if (i < len && s[i] == '[' && section_word(s + start, i - start, &kind) == 0) {
				const char *err = read_section(p, s, len, start, i, kind, &end);

				if (err != NULL)
					return err;
				i = end;
				continue;
			}
			while (i < len && is_atom_char(s[i]))
				i++;
			if (i < len && s[i] != ' ' && s[i] != ')') {
				if (s[i] >= 0x80)
					return "8-bit characters in atom";
				if (s[i] < 0x20 || s[i] == 0x7f)
					return "Control characters in command";
				return "Invalid characters in atom";
			}
			n = node_add(p, word_eq(s + start, i - start, "NIL") ? IMAP_ARG_NIL
									    : IMAP_ARG_ATOM);
			if (n == NULL)
				return "Too many arguments";
			n->arg.str = arena_strdup(p, (const char *)s + start, i - start);
			n->arg.len = i - start;
		}
	}
	return NULL;
}

/* Reads the tag and the command name of a command's first line. Returns
 * the offset after the name, or 0 with *err_r. */
static size_t read_head(struct imap_parser *p, const unsigned char *s, size_t len, const char **err_r)
{
	size_t i = 0, start;
	char *name;

	while (i < len && is_tag_char(s[i]))
		i++;
	if (i == 0 || (i < len && s[i] != ' ')) {
		*err_r = "Invalid tag";
		return 0;
	}
	p->tag = arena_strdup(p, (const char *)s, i);
	if (i == len) {
		*err_r = "Missing command name";
		return 0;
	}
	start = ++i;
	while (i < len && is_atom_char(s[i]))
		i++;
	if (i == start || i - start > IMAP_COMMAND_NAME_MAX || (i < len && s[i] != ' ')) {
		*err_r = i == start ? "Missing command name" : "Invalid command name";
		return 0;
	}
	name = arena_strdup(p, (const char *)s + start, i - start);
	for (char *c = name; *c != '\0'; c++)
		*c = upper(*c);
	p->name = name;
	return i;
}

/* The tag of a line, for the reply to a line that is too long. */
static void salvage_tag(struct imap_parser *p)
{
	const unsigned char *s = buf_data(&p->line);
	size_t len = buf_len(&p->line), i = 0;

	if (p->tag != NULL)
		return;
	while (i < len && is_tag_char(s[i]))
		i++;
	if (i > 0 && i < len && s[i] == ' ')
		p->tag = arena_strdup(p, (const char *)s, i);
}

static void fill_done(struct imap_parser *p, struct imap_cmd *cmd)
{
	cmd->tag = p->tag;
	cmd->name = p->name;
	cmd->args = node_finish(p, p->stack[0], &cmd->n_args);
}

/* A whole line s[0..len) (CRLF removed) of the command. */
static int process_line(struct imap_parser *p, const unsigned char *s, size_t len, size_t wire_len,
			struct imap_cmd *cmd)
{
	const char *err = NULL, *code = NULL;
	size_t i = 0;
	bool lit;

	if (!p->in_command) {
		if (len == 0)
			return IMAP_PARSE_MORE;	/* empty line between commands */
		p->in_command = true;
		p->stack[0] = arena_alloc(p, sizeof(struct node));
		memset(p->stack[0], 0, sizeof(struct node));
	}
	p->cmd_bytes += wire_len;
	if (p->cmd_bytes > p->params.max_command) {
		salvage_tag(p);
		err = "Command too long";
		code = "TOOBIG";
	} else if (memchr(s, '\0', len) != NULL) {
		salvage_tag(p);
		err = "NUL in command";
	} else if (p->name == NULL) {
		i = read_head(p, s, len, &err);
	}
	if (err == NULL)
		err = read_args(p, s, len, i, &lit);
	if (err != NULL) {
		error_at(p, cmd, code, err);
		skip_after_line(p, s, len);
		return IMAP_PARSE_ERROR;
	}
	p->after_literal = false;
	if (lit) {
		uint64_t room = p->params.max_command - p->cmd_bytes;

		cmd->tag = p->tag;
		cmd->name = p->name;
		if (!p->lit.sync && p->lit.size > p->params.max_literal)
			return fatal_at(p, cmd, "Literal too big");
		if (!p->lit.sync && p->params.literal_minus &&
		    p->lit.size > LIMIT_IMAP_LITERAL_MINUS) {
			error_at(p, cmd, "TOOBIG", "Non-synchronizing literal larger than 4096 octets");
			skip_after_line(p, s, len);
			return IMAP_PARSE_ERROR;
		}
		if (p->n_args >= p->params.max_args) {
			error_at(p, cmd, NULL, "Too many arguments");
			skip_after_line(p, s, len);
			return IMAP_PARSE_ERROR;
		}
		p->lit.too_big = p->lit.size > p->params.max_literal;
		p->lit.fits = p->lit.size <= room;
		p->lit.depth = p->depth;
		p->lit.index = p->stack[0]->count;
		cmd->literal = p->lit;
		p->state = ST_LITERAL_WAIT;
		return IMAP_PARSE_LITERAL;
	}
	if (p->depth > 0) {
		error_at(p, cmd, NULL, "Missing )");
		skip_after_line(p, s, len);
		return IMAP_PARSE_ERROR;
	}
	if (p->name == NULL) {
		error_at(p, cmd, NULL, "Missing command name");
		skip_after_line(p, s, len);
		return IMAP_PARSE_ERROR;
	}
	fill_done(p, cmd);
	command_reset(p);
	p->release = true;
	return IMAP_PARSE_DONE;
}

/* ---------- literals ---------- */

int imap_parser_literal_accept(struct imap_parser *p)
{
	if (p->state != ST_LITERAL_WAIT)
		abort();
	if (!p->lit.fits)
		return -1;
	p->cmd_bytes += p->lit.size;
	p->lit_data = arena_alloc(p, (size_t)p->lit.size + 1);
	p->lit_have = 0;
	p->state = ST_LITERAL_READ;
	return 0;
}

static const char *literal_done(struct imap_parser *p)
{
	struct node *n;

	p->after_literal = true;
	p->state = ST_LINE;
	p->lit_data[p->lit.size] = '\0';
	if (!p->lit.literal8 && memchr(p->lit_data, '\0', (size_t)p->lit.size) != NULL)
		return "NUL in literal (use literal8)";
	n = node_add(p, IMAP_ARG_LITERAL);
	if (n == NULL)
		abort();	/* room was checked before announcing */
	n->arg.str = (const char *)p->lit_data;
	n->arg.len = (size_t)p->lit.size;
	n->arg.literal8 = p->lit.literal8;
	n->arg.nonsync = !p->lit.sync;
	return NULL;
}

void imap_parser_literal_take(struct imap_parser *p)
{
	struct node *n;

	if (p->state != ST_LITERAL_WAIT)
		abort();
	p->after_literal = true;
	p->state = ST_LINE;
	n = node_add(p, IMAP_ARG_LITERAL_TAKEN);
	if (n == NULL)
		abort();	/* room was checked before announcing */
	n->arg.len = (size_t)p->lit.size;
	n->arg.literal8 = p->lit.literal8;
	n->arg.nonsync = !p->lit.sync;
	n->arg.str = "";
}

void imap_parser_literal_refuse(struct imap_parser *p)
{
	uint64_t size = p->lit.size;
	bool sync = p->lit.sync;

	if (p->state != ST_LITERAL_WAIT)
		abort();
	command_reset(p);
	p->release = true;
	p->tail_len = 0;
	if (sync || size == 0) {
		p->state = sync ? ST_LINE : ST_SKIP_LINE;
	} else {
		p->skip_left = size;
		p->state = ST_SKIP_LITERAL;
	}
}

/* ---------- the reader ---------- */

/* Feeds the line state: returns 1 with a complete line in p->line (LF
 * included), 0 when all was consumed, -1 when the line passed line_max
 * (the bytes so far are dropped). */
static int line_feed(struct imap_parser *p, const unsigned char *buf, size_t len, size_t *i_r)
{
	size_t i = *i_r;
	const unsigned char *lf = memchr(buf + i, '\n', len - i);
	size_t n = lf != NULL ? (size_t)(lf - (buf + i)) + 1 : len - i;

	if (buf_len(&p->line) + n > p->line_max) {
		/* Consume up to the limit; the rest is skipped. */
		size_t keep = p->line_max - buf_len(&p->line);

		if (buf_append(&p->line, buf + i, keep) < 0)
			abort();
		*i_r = i + keep;
		return -1;
	}
	if (buf_append(&p->line, buf + i, n) < 0)
		abort();
	*i_r = i + n;
	return lf != NULL ? 1 : 0;
}

/* Strips the CRLF (or bare LF) of the line in p->line. */
static size_t line_content(struct imap_parser *p, const unsigned char **s_r)
{
	const unsigned char *s = buf_data(&p->line);
	size_t n = buf_len(&p->line) - 1;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	*s_r = s;
	return n;
}

static void tail_add(struct imap_parser *p, const unsigned char *s, size_t n)
{
	if (n >= TAIL_MAX) {
		memcpy(p->tail, s + n - TAIL_MAX, TAIL_MAX);
		p->tail_len = TAIL_MAX;
		return;
	}
	if (p->tail_len + n > TAIL_MAX) {
		size_t drop = p->tail_len + n - TAIL_MAX;

		memmove(p->tail, p->tail + drop, p->tail_len - drop);
		p->tail_len -= drop;
	}
	memcpy(p->tail + p->tail_len, s, n);
	p->tail_len += n;
}

int imap_parser_read(struct imap_parser *p, const unsigned char *buf, size_t len, size_t *used_r,
		     struct imap_cmd *cmd)
{
	size_t i = 0;

	memset(cmd, 0, sizeof(*cmd));
	*used_r = 0;
	if (p->state == ST_LITERAL_WAIT)
		abort();	/* accept, take or refuse first */
	if (p->state == ST_CLOSED) {
		cmd->error = p->fatal;
		return IMAP_PARSE_ERROR;
	}
	if (p->release) {
		arena_clear(p, false);
		p->release = false;
	}
	while (i < len) {
		switch (p->state) {
		case ST_LINE: {
			const unsigned char *s;
			size_t n, wire;
			int r = line_feed(p, buf, len, &i);

			if (r == 0)
				break;
			if (r < 0) {
				salvage_tag(p);
				error_at(p, cmd, NULL, "Command line too long");
				command_reset(p);
				buf_reset(&p->line);
				p->tail_len = 0;
				p->state = ST_SKIP_LINE;
				*used_r = i;
				return IMAP_PARSE_ERROR;
			}
			wire = buf_len(&p->line);
			n = line_content(p, &s);
			r = process_line(p, s, n, wire, cmd);
			buf_reset(&p->line);
			if (r == IMAP_PARSE_MORE)
				break;
			*used_r = i;
			return r;
		}
		case ST_LITERAL_READ: {
			uint64_t want = p->lit.size - p->lit_have;
			size_t n = len - i < want ? len - i : (size_t)want;
			const char *err;

			memcpy(p->lit_data + p->lit_have, buf + i, n);
			p->lit_have += n;
			i += n;
			if (p->lit_have < p->lit.size)
				break;
			err = literal_done(p);
			if (err != NULL) {
				error_at(p, cmd, NULL, err);
				command_reset(p);
				p->tail_len = 0;
				p->state = ST_SKIP_LINE;
				*used_r = i;
				return IMAP_PARSE_ERROR;
			}
			break;
		}
		case ST_SKIP_LITERAL: {
			size_t n = len - i < p->skip_left ? len - i : (size_t)p->skip_left;

			i += n;
			p->skip_left -= n;
			if (p->skip_left == 0) {
				p->tail_len = 0;
				p->state = ST_SKIP_LINE;
			}
			break;
		}
		case ST_SKIP_LINE:
		case ST_RAW_SKIP: {
			const unsigned char *lf = memchr(buf + i, '\n', len - i);
			size_t n = lf != NULL ? (size_t)(lf - (buf + i)) : len - i;
			uint64_t size;
			bool nonsync;
			size_t start, tl;

			tail_add(p, buf + i, n);
			i += n;
			if (lf == NULL)
				break;
			i++;
			tl = p->tail_len;
			if (tl > 0 && p->tail[tl - 1] == '\r')
				tl--;
			if (p->state == ST_SKIP_LINE &&
			    literal_suffix(p->tail, tl, &size, &nonsync, &start) == 1 && nonsync) {
				if (size > p->params.max_literal) {
					*used_r = i;
					return fatal_at(p, cmd, "Literal too big");
				}
				p->skip_left = size;
				p->state = size > 0 ? ST_SKIP_LITERAL : ST_SKIP_LINE;
				p->tail_len = 0;
				break;
			}
			p->tail_len = 0;
			p->state = ST_LINE;
			break;
		}
		case ST_LITERAL_WAIT:
		case ST_CLOSED:
			abort();
		}
	}
	*used_r = i;
	return IMAP_PARSE_MORE;
}

int imap_parser_read_line(struct imap_parser *p, const unsigned char *buf, size_t len,
			  size_t *used_r, const char **line_r, size_t *len_r, const char **error_r)
{
	size_t i = 0;

	*used_r = 0;
	if (p->in_command || (p->state != ST_LINE && p->state != ST_RAW_SKIP))
		abort();
	if (p->release) {
		arena_clear(p, false);
		p->release = false;
	}
	while (i < len) {
		if (p->state == ST_RAW_SKIP) {
			const unsigned char *lf = memchr(buf + i, '\n', len - i);

			if (lf == NULL) {
				i = len;
				break;
			}
			i = (size_t)(lf - buf) + 1;
			p->state = ST_LINE;
			continue;
		}
		int r = line_feed(p, buf, len, &i);

		if (r == 0)
			break;
		*used_r = i;
		if (r < 0) {
			buf_reset(&p->line);
			p->state = ST_RAW_SKIP;
			*error_r = "Line too long";
			return -1;
		}
		const unsigned char *s;
		size_t n = line_content(p, &s);
		char *copy = arena_strdup(p, (const char *)s, n);

		buf_reset(&p->line);
		p->release = true;
		if (memchr(s, '\0', n) != NULL) {
			*error_r = "NUL in line";
			return -1;
		}
		*line_r = copy;
		*len_r = n;
		return 1;
	}
	*used_r = i;
	return 0;
}

/* ---------- argument helpers ---------- */

int imap_arg_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL && arg->type != IMAP_ARG_STRING &&
	    arg->type != IMAP_ARG_LITERAL)
		return -1;
	*str_r = arg->str;
	*len_r = arg->len;
	return 0;
}

int imap_arg_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		*len_r = 0;
		return 0;
	}
	return imap_arg_string(arg, str_r, len_r);
}

int imap_arg_string(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type != IMAP_ARG_STRING && arg->type != IMAP_ARG_LITERAL)
		return -1;
	*str_r = arg->str;
	*len_r = arg->len;
	return 0;
}

bool imap_arg_atom_is(const struct imap_arg *arg, const char *word)
{
	return (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) &&
	       word_eq((const unsigned char *)arg->str, arg->len, word);
}

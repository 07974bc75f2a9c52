/* stmt.h - the one table of prepared statements (STYLE rule 10).
 * OWNED BY the db/ module; the enum and stmt.c's table must stay in step. */
#ifndef POSTERN_DB_STMT_H
#define POSTERN_DB_STMT_H

enum db_stmt {
	STMT_NONE = 0,
	/* filled in by db/stmt.c's owner */
	STMT__COUNT
};

struct db_stmt_def {
	const char *name;
	const char *sql;
	int nparams;
};

extern const struct db_stmt_def db_stmts[STMT__COUNT];

#endif

/*
 * Logging to stderr or a file: levels, errno variants, fatal, and a
 * helper that escapes peer-supplied bytes before they reach a log line.
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/*
 * A log line's message, after "wsbridge[PID]: " and the level's tag:
 * longer ones are cut. Callers that build a line from escaped pieces
 * (conn_log.c: head 400 + backend 300 + route) keep their sum under it.
 */
#define LOG_LINE_MAX		2048
/*
 * A time stamp: "2024-01-31T23:59:59+0100" (24 bytes; the access log's
 * "...Z" form is shorter), a blank after it on a terminal, a NUL; with
 * room for a long %z.
 */
#define LOG_STAMP_SIZE		40

/* Level, and the access log file (NULL or "stderr": stderr). */
void	log_init(enum log_level, const char *access_path);
void	log_set_level(enum log_level);
int	log_reopen(void);
int	log_enabled(enum log_level);
int	log_access_enabled(void);
/*
 * A wait status as logs show it: "exit N", "signal N", or "-" (-1); in
 * JSON a string or null.
 */
void	log_exit_status(int status, bool json, char *buf, size_t len);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
/* An access line: to the access_log file (time-stamped) or stderr. */
void	log_access_line(const char *);
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Copy n bytes of untrusted src into dst (size dstsz) with control and
 * non-ASCII bytes as \xNN, backslash and quote escaped; always
 * NUL-terminated (dstsz > 0). All of it when it fits, else as many whole
 * escapes as fit before "..." (nothing under 4 bytes). Returns dst.
 * LOG_ESCAPE_SIZE(n) bytes always hold n bytes escaped, uncut.
 */
#define LOG_ESCAPE_MAX_CHAR	4	/* "\xNN" */
#define LOG_ELLIPSIS_LEN	3	/* "..." */
#define LOG_ESCAPE_SIZE(n)	((n) * LOG_ESCAPE_MAX_CHAR + 1)
char	*log_escape(char *dst, size_t dstsz, const char *src, size_t n);

#endif

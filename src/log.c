/*
 * Log lines go to stderr or to a file with a time stamp; stderr lines get
 * one too when stderr is a terminal (journald adds its own otherwise).
 * log_warn appends strerror(errno); log_warnx doesn't.
 */
#include <sys/wait.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level	 log_level = LOG_LEVEL_INFO;
static FILE		*log_fp;	/* access lines; NULL: stderr */
static char		*log_path;
static int		 log_tty = -1;	/* stderr is a terminal; -1 unknown */

void
log_init(enum log_level level, const char *path)
{
	log_level = level;
	free(log_path);
	log_path = path && strcmp(path, "stderr") != 0 ? strdup(path) : NULL;
	if (log_reopen() == -1)
		fprintf(stderr, "wsbridge: %s: %s\n", path, strerror(errno));
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

/* Reopen the log file (SIGUSR1, after rotation). */
int
log_reopen(void)
{
	FILE	*fp;

	if (log_path == NULL) {
		log_fp = NULL;
		return 0;
	}
	if ((fp = fopen(log_path, "a")) == NULL)
		return -1;
	setvbuf(fp, NULL, _IOLBF, 0);
	if (log_fp != NULL)
		fclose(log_fp);
	log_fp = fp;
	return 0;
}

int
log_enabled(enum log_level level)
{
	return level <= log_level;
}

void
log_exit_status(int status, bool json, char *buf, size_t len)
{
	const char	*q = json ? "\"" : "";

	if (status != -1 && WIFEXITED(status))
		snprintf(buf, len, "%sexit %d%s", q, WEXITSTATUS(status), q);
	else if (status != -1 && WIFSIGNALED(status))
		snprintf(buf, len, "%ssignal %d%s", q, WTERMSIG(status), q);
	else
		snprintf(buf, len, "%s", json ? "null" : "-");
}

/* A file named in access_log always gets its lines; stderr at "access". */
int
log_access_enabled(void)
{
	return log_path != NULL || log_enabled(LOG_LEVEL_ACCESS);
}

static void
log_stamp(char *buf, size_t len)
{
	time_t		 now = time(NULL);
	struct tm	 tm;

	localtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

/* "TIME " on a terminal, "" elsewhere (journald stamps its lines). */
static const char *
log_tty_stamp(char *buf, size_t len)
{
	if (log_tty == -1)
		log_tty = isatty(STDERR_FILENO);
	if (!log_tty)
		return "";
	log_stamp(buf, len - 1);
	strcat(buf, " ");
	return buf;
}

static void
log_vwrite(enum log_level level, const char *tag, const char *err,
    const char *fmt, va_list ap)
{
	char	 line[LOG_LINE_MAX], stamp[LOG_STAMP_SIZE];

	if (level > log_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%swsbridge[%d]: %s%s%s%s\n",
	    log_tty_stamp(stamp, sizeof(stamp)), (int)getpid(), tag, line,
	    err != NULL ? ": " : "", err != NULL ? err : "");
}

void
log_access_line(const char *line)
{
	char		 stamp[LOG_STAMP_SIZE];

	if (!log_access_enabled())
		return;
	if (log_fp == NULL) {
		fprintf(stderr, "%swsbridge[%d]: %s\n",
		    log_tty_stamp(stamp, sizeof(stamp)), (int)getpid(), line);
		return;
	}
	log_stamp(stamp, sizeof(stamp));
	/* A JSON line stays a JSON document: its time is a field. */
	if (line[0] == '{')
		fprintf(log_fp, "%s\n", line);
	else
		fprintf(log_fp, "%s %s\n", stamp, line);
}

#define LOG_FN(name, level, tag, witherr)				\
void									\
name(const char *fmt, ...)						\
{									\
	va_list	 ap;							\
	int	 saved = errno;						\
									\
	va_start(ap, fmt);						\
	log_vwrite(level, tag, witherr ? strerror(saved) : NULL, fmt, ap);\
	va_end(ap);							\
	errno = saved;							\
}

LOG_FN(log_warn, LOG_LEVEL_WARN, "warning: ", 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, "warning: ", 0)
LOG_FN(log_error, LOG_LEVEL_ERROR, "error: ", 0)
LOG_FN(log_info, LOG_LEVEL_INFO, "", 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, "debug: ", 0)

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, "fatal: ", strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, "fatal: ", NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

/* What byte ch becomes in a log line: 1, 2 (\\ \") or 4 (\xNN). */
static size_t
log_escape_len(unsigned char ch)
{
	if (ch == '\\' || ch == '"')
		return 2;
	return ch >= 0x20 && ch < 0x7f ? 1 : LOG_ESCAPE_MAX_CHAR;
}

char *
log_escape(char *dst, size_t dstsz, const char *src, size_t n)
{
	size_t		 i, o = 0, need = 0, room, len;
	unsigned char	 ch;

	if (dstsz == 0)
		return dst;
	for (i = 0; i < n && need < dstsz; i++)
		need += log_escape_len((unsigned char)src[i]);
	/* all of it when it fits, else whole escapes and "..." */
	if (i == n && need < dstsz)
		room = dstsz - 1;
	else
		room = dstsz > LOG_ELLIPSIS_LEN ? dstsz - 1 - LOG_ELLIPSIS_LEN :
		    0;
	for (i = 0; i < n; i++) {
		ch = (unsigned char)src[i];
		if (o + (len = log_escape_len(ch)) > room)
			break;
		if (len == 1)
			dst[o++] = (char)ch;
		else if (len == 2) {
			dst[o++] = '\\';
			dst[o++] = (char)ch;
		} else
			o += (size_t)snprintf(dst + o, dstsz - o, "\\x%02x", ch);
	}
	if (i < n && dstsz > LOG_ELLIPSIS_LEN) {
		memcpy(dst + o, "...", LOG_ELLIPSIS_LEN);
		o += LOG_ELLIPSIS_LEN;
	}
	dst[o] = '\0';
	return dst;
}

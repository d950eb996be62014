/*
 * Files re-read on change: one stat per use, a fresh read line by line
 * when the stamp differs, the owner told to clear and parse.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filewatch.h"

int
file_watch_init(struct file_watch *fw, const char *path,
    const struct file_watch_ops *ops, void *owner,
    void (*warn)(void *, const char *), void *arg)
{
	memset(fw, 0, sizeof(*fw));
	if ((fw->path = strdup(path)) == NULL)
		return -1;
	fw->ops = ops;
	fw->owner = owner;
	fw->warn = warn;
	fw->arg = arg;
	return 0;
}

void
file_watch_warn(struct file_watch *fw, const char *fmt, ...)
{
	char	 msg[FILE_WATCH_MAX_WARN];
	va_list	 ap;

	if (fw->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fw->warn(fw->arg, msg);
}

/* Every line of fp to the owner: 0, or -1 when memory ran out. */
static int
file_watch_lines(struct file_watch *fw, FILE *fp)
{
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 len;
	int		 lineno = 0, rv = 0;

	while (rv == 0) {
		errno = 0;
		if ((len = getline(&line, &cap, fp)) == -1) {
			/* EOF, or ENOMEM said only through errno */
			rv = errno == ENOMEM ? -1 : 0;
			break;
		}
		rv = fw->ops->line(fw->owner, line, (size_t)len, ++lineno);
	}
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	return rv;
}

int
file_watch_read(struct file_watch *fw, char *err, size_t errsz)
{
	FILE		*fp;
	struct stat	 st;
	int		 rv, saved;

	fw->ops->clear(fw->owner);
	/* the stamp of what is read: fstat, not a stat that could race */
	if ((fp = fopen(fw->path, "re")) == NULL || fstat(fileno(fp),
	    &st) == -1) {
		saved = errno;
		snprintf(err, errsz, "%s: %s", fw->path, strerror(saved));
		if (fp != NULL)
			fclose(fp);
		fw->stamp.valid = false;
		errno = saved;
		return saved == ENOMEM ? FILE_WATCH_NOMEM : -1;
	}
	rv = file_watch_lines(fw, fp);
	fclose(fp);
	if (rv == -1) {
		/* half a file is worse than none: read it all next time */
		fw->ops->clear(fw->owner);
		fw->stamp.valid = false;
		snprintf(err, errsz, "%s: %s", fw->path, strerror(ENOMEM));
		errno = ENOMEM;
		return FILE_WATCH_NOMEM;
	}
	if (fw->ops->done != NULL)
		fw->ops->done(fw->owner);
	file_stamp_set(&fw->stamp, &st);
	return 0;
}

int
file_watch_refresh(struct file_watch *fw)
{
	char	 err[FILE_WATCH_MAX_WARN];
	int	 rv;

	switch (file_stamp_changed(fw->path, &fw->stamp)) {
	case 0:
		return 0;
	case -1:
		if (fw->stamp.valid)
			file_watch_warn(fw, "%s: %s", fw->path,
			    strerror(errno));
		fw->ops->clear(fw->owner);
		fw->stamp.valid = false;
		return 0;
	}
	if ((rv = file_watch_read(fw, err, sizeof(err))) != 0)
		file_watch_warn(fw, "%s", err);
	return rv == FILE_WATCH_NOMEM ? FILE_WATCH_NOMEM : 0;
}

void
file_watch_free(struct file_watch *fw)
{
	free(fw->path);
	fw->path = NULL;
	fw->stamp.valid = false;
}

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

int
file_watch_read(struct file_watch *fw, char *err, size_t errsz)
{
	FILE		*fp;
	struct stat	 st;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 len;
	int		 lineno = 0;

	fw->ops->clear(fw->owner);
	/* the stamp of what is read: fstat, not a stat that could race */
	if ((fp = fopen(fw->path, "re")) == NULL || fstat(fileno(fp),
	    &st) == -1) {
		snprintf(err, errsz, "%s: %s", fw->path, strerror(errno));
		if (fp != NULL)
			fclose(fp);
		fw->stamp.valid = false;
		return -1;
	}
	while ((len = getline(&line, &cap, fp)) != -1)
		fw->ops->line(fw->owner, line, (size_t)len, ++lineno);
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	fclose(fp);
	if (fw->ops->done != NULL)
		fw->ops->done(fw->owner);
	file_stamp_set(&fw->stamp, &st);
	return 0;
}

void
file_watch_refresh(struct file_watch *fw)
{
	char	 err[512];

	switch (file_stamp_changed(fw->path, &fw->stamp)) {
	case 0:
		return;
	case -1:
		if (fw->stamp.valid)
			file_watch_warn(fw, "%s: %s", fw->path,
			    strerror(errno));
		fw->ops->clear(fw->owner);
		fw->stamp.valid = false;
		return;
	}
	if (file_watch_read(fw, err, sizeof(err)) == -1)
		file_watch_warn(fw, "%s", err);
}

void
file_watch_free(struct file_watch *fw)
{
	free(fw->path);
	fw->path = NULL;
	fw->stamp.valid = false;
}

/*
 * A file wsbridge re-reads when it changes (htpasswd, token files): its
 * path and stamp, the stat before each use, the line-by-line read. The
 * module that owns it parses the lines. Pure: files only, no event loop.
 */
#ifndef FILEWATCH_H
#define FILEWATCH_H

#include <stddef.h>

#include "filestamp.h"

/* A warning: the path and a line of the file, with room to spare. */
#define FILE_WATCH_MAX_WARN	1536

/* What the owner does with the file's contents. */
struct file_watch_ops {
	/* Drop what the last read loaded. */
	void	(*clear)(void *owner);
	/*
	 * One line as getline(3) gives it (newline kept), from 1. 0, or -1
	 * when out of memory: the read stops there.
	 */
	int	(*line)(void *owner, char *line, size_t len, int lineno);
	/* After the last line of a read; may be NULL. */
	void	(*done)(void *owner);
};

struct file_watch {
	char				*path;
	struct file_stamp		 stamp;	/* the file as last read */
	const struct file_watch_ops	*ops;
	void				*owner;
	void				(*warn)(void *arg, const char *msg);
	void				*arg;	/* warn's */
};

/* Set up fw (nothing read yet); warn may be NULL. 0, or -1 (ENOMEM). */
int	file_watch_init(struct file_watch *fw, const char *path,
	    const struct file_watch_ops *ops, void *owner,
	    void (*warn)(void *arg, const char *msg), void *arg);
/*
 * Read the file from scratch: clear, every line, done, and its stamp
 * kept. -1 with err set ("PATH: reason") when it cannot be opened, or
 * FILE_WATCH_NOMEM when memory runs out (errno ENOMEM): then nothing is
 * loaded and the next refresh reads it again. Each line buffer is wiped
 * after use (passwords).
 */
#define FILE_WATCH_NOMEM	(-2)
int	file_watch_read(struct file_watch *fw, char *err, size_t errsz);
/*
 * Before each use: stat the file, and read it again if it changed. A
 * file that is gone or unreadable leaves nothing loaded, and is warned
 * about once (at the first failure after a good read). 0, or
 * FILE_WATCH_NOMEM (warned, nothing loaded): the caller refuses this
 * one request (503), the daemon goes on.
 */
int	file_watch_refresh(struct file_watch *fw);
/* A warning through fw's warn callback, if any. */
void	file_watch_warn(struct file_watch *fw, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	file_watch_free(struct file_watch *fw);

#endif

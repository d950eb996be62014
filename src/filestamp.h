/*
 * What identifies a file's contents cheaply (device, inode, size, mtime):
 * a different stamp means the file must be read again. Used by the files
 * wsbridge re-reads on change (htpasswd, token files).
 */
#ifndef FILESTAMP_H
#define FILESTAMP_H

#include <sys/stat.h>

#include <stdbool.h>

struct file_stamp {
	bool		 valid;		/* the file was read */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
};

static inline void
file_stamp_set(struct file_stamp *fs, const struct stat *st)
{
	fs->valid = true;
	fs->dev = st->st_dev;
	fs->ino = st->st_ino;
	fs->size = st->st_size;
	fs->mtime = st->st_mtim;
}

/* 1: changed (or never read), 0: the same, -1: stat failed (errno). */
static inline int
file_stamp_changed(const char *path, const struct file_stamp *fs)
{
	struct stat	 st;

	if (stat(path, &st) == -1)
		return -1;
	return !fs->valid || st.st_dev != fs->dev || st.st_ino != fs->ino ||
	    st.st_size != fs->size || st.st_mtim.tv_sec != fs->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != fs->mtime.tv_nsec;
}

#endif

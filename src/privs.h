/*
 * Dropping root after the listeners are bound and keys loaded.
 */
#ifndef PRIVS_H
#define PRIVS_H

#include <stddef.h>

/* Become user (and group, or the user's group). 0, or -1 with err. */
int	privs_drop(const char *user, const char *group, char *err,
	    size_t errsz);

#endif

/*
 * Helpers shared by the configuration modules (config*.c), not for others.
 */
#ifndef CONFIG_INT_H
#define CONFIG_INT_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

void		 config_oom(void);
void		*config_xcalloc(size_t n, size_t size);
char		*config_xstrdup(const char *);
void		 strlist_copy(struct strlist *dst, const struct strlist *src);
void		 strlist_set_csv(struct strlist *, const char *csv);
int		 config_err(const struct config *, FILE *errfp, int line,
		    const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
const char	*config_route_name(const struct route *, char *buf,
		    size_t len);
int		 config_route_err(const struct config *, FILE *errfp,
		    const struct route *, int line, const char *fmt, ...)
		    __attribute__((format(printf, 5, 6)));

#endif /* CONFIG_INT_H */

/*
 * Helpers shared by the configuration modules (config*.c), not for others.
 */
#ifndef CONFIG_INT_H
#define CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* config_keys.c: the keys of each section and how a value is stored. */
enum config_type {
	T_STR, T_INT, T_DURATION, T_SIZE, T_BOOL, T_LIST, T_HEADER, T_ENV,
	T_LISTEN, T_TLSLISTEN, T_WORKERS, T_LOGLEVEL, T_ACCESSLOG, T_MODE,
	T_LOGFORMAT, T_TLSVERSION, T_AUTH, T_SENDPROXY, T_CIDRS, T_URLPATH,
	T_HEADERNAME, T_REALM, T_TRANSPORTS, T_SHARE, T_SLOW,
	/* backends last: config_handler counts them by type - T_EXEC */
	T_EXEC, T_DIR, T_CONNECT, T_ECHO, T_TARGETS, T_VIEW,
};
#define NBACKENDS	(T_VIEW - T_EXEC + 1)

#define NOLINE		((size_t)-1)
#define MAXKEYS		64

/* One key of a section: where it goes in struct config or struct route. */
struct config_key {
	const char		*name;
	enum config_type	 type;
	size_t			 off;		/* field offset */
	size_t			 line_off;	/* int line field, or NOLINE */
	int64_t			 min, max;	/* T_INT, T_SIZE, T_DURATION */
	bool			 repeat;
};

extern const struct config_key	 config_server_keys[], config_tls_keys[],
				 config_sni_keys[], config_route_keys[];
const struct config_key	*config_key_find(const struct config_key *,
			    const char *name);
int			 config_key_set(struct config *, struct route *,
			    char *base, const struct config_key *,
			    const char *value, int line, char *err,
			    size_t errlen);

#endif /* CONFIG_INT_H */

/*
 * Command line: websocketd 0.4.1's flags (-flag, --flag, --flag=value)
 * plus wsbridge's own, turned into a struct config.
 */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"

struct options {
	const char	*config_path;	/* -c FILE */
	bool		 check;		/* --check */
	bool		 version;	/* --version: print and exit 0 */
	bool		 help;		/* --help: print usage and exit 0 */
	bool		 license;	/* --license: print it and exit 0 */
};

/*
 * Parse argv. With -c, the file is loaded first and flags override its
 * [server] values; otherwise the backend flag or COMMAND becomes one
 * catch-all route. Returns 0 with *cfg set (config_finish() not yet run),
 * 2 on a usage error (one line naming the flag printed to errfp), 1 on a
 * config file error (FILE:LINE lines printed). --help/--version return 0
 * with *cfg NULL after setting opts.
 */
int	options_parse(int argc, char **argv, struct options *,
	    struct config **cfg, FILE *errfp);
/* The --help text. */
void	options_usage(FILE *);
/* The --license text: wsbridge's, and the notices of code compiled in. */
void	options_license(FILE *);

#endif

/*
 * libFuzzer target for the config file parser: the input becomes a file
 * (a memfd, named through /proc/self/fd) loaded by config_load, the way
 * `wsbridge -c FILE` starts; what loaded is printed and matched against
 * a few paths, then freed (LeakSanitizer checks nothing is left).
 * config_finish is left out: it resolves host names and looks at the
 * file system, which a fuzzer should not drive.
 */
#include <sys/mman.h>

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const fuzz_paths[] = {
	"/", "/echo", "/echo/", "/scripts/a/b", "/x/../y", "//", "",
};

static FILE	*fuzz_null;

/* The routes config_match returns are the config's own. */
static void
fuzz_match(const struct config *cfg)
{
	const struct route	*r;
	const char		*rest;
	size_t			 i, j;

	for (i = 0; i < sizeof(fuzz_paths) / sizeof(fuzz_paths[0]); i++) {
		rest = NULL;
		if ((r = config_match(cfg, fuzz_paths[i], &rest)) == NULL)
			continue;
		for (j = 0; j < cfg->nroutes; j++)
			if (cfg->routes[j] == r)
				break;
		assert(j < cfg->nroutes);
		assert(rest != NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*cfg;
	char		 path[64];
	int		 fd, errors;

	if (fuzz_null == NULL &&
	    (fuzz_null = fopen("/dev/null", "w")) == NULL)
		abort();
	if ((fd = memfd_create("fuzz.ini", 0)) == -1)
		abort();
	if (size != 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	cfg = config_new();
	errors = config_load(cfg, path, fuzz_null);
	assert(errors >= 0);
	config_print(cfg, fuzz_null);
	fuzz_match(cfg);
	config_free(cfg);
	close(fd);
	return 0;
}

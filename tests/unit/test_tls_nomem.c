/*
 * tls.c without memory: tls_ctx_new returns NULL with a reason (a
 * SIGHUP keeps the old context, the daemon lives) where it used to
 * abort(). calloc and malloc are replaced here to fail on demand.
 */
#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

#include "test.h"
#include "config.h"
#include "tls.h"

#if defined(__SANITIZE_ADDRESS__)
/* ASan owns malloc: nothing to replace */
int
main(void)
{
	(void)test_failed, (void)test_checked;
	return 0;
}
#else

void	*__libc_calloc(size_t, size_t);
void	*__libc_malloc(size_t);

static int	 calloc_fail_at;	/* fail the Nth calloc from now, 0: none */
static size_t	 malloc_fail_size;	/* fail every malloc of this size */

void *
calloc(size_t n, size_t size)
{
	if (calloc_fail_at > 0 && --calloc_fail_at == 0)
		return NULL;
	return __libc_calloc(n, size);
}

void *
malloc(size_t size)
{
	if (malloc_fail_size != 0 && size == malloc_fail_size)
		return NULL;
	return __libc_malloc(size);
}

/* An SNI name no other allocation on this path is as long as, plus 1. */
#define ODD_NAME	"odd-length-name-for-the-strdup-that-fails.example"

static char	 dir[] = "/tmp/wsbridge-tlsnomem-XXXXXX";

static char *
file(const char *name)
{
	char	 p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return strdup(p);
}

static struct config *
make_config(void)
{
	struct config	*cfg = config_new();
	char		 cmd[512];

	snprintf(cmd, sizeof(cmd), "cd %s && openssl req -x509 -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout k.pem "
	    "-out c.pem -subj /CN=x >/dev/null 2>&1", dir);
	if (system(cmd) != 0)
		exit(1);
	cfg->tls_cert = file("c.pem");
	cfg->tls_key = file("k.pem");
	cfg->tls_certs = calloc(1, sizeof(*cfg->tls_certs));
	cfg->tls_certs[0].name = strdup(ODD_NAME);
	cfg->tls_certs[0].cert = file("c.pem");
	cfg->tls_certs[0].key = file("k.pem");
	cfg->ntls_certs = 1;
	return cfg;
}

int
main(void)
{
	struct config	*cfg;
	struct tls_ctx	*tc;
	char		 err[256];

	if (mkdtemp(dir) == NULL)
		return 1;
	cfg = make_config();
	/* the context, then its SNI table */
	calloc_fail_at = 1;
	CHECK(tls_ctx_new(cfg, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "out of memory") != NULL);
	calloc_fail_at = 2;
	CHECK(tls_ctx_new(cfg, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "out of memory") != NULL);
	calloc_fail_at = 0;
	/* the [tls NAME]'s name */
	malloc_fail_size = sizeof(ODD_NAME);
	CHECK(tls_ctx_new(cfg, err, sizeof(err)) == NULL);
	malloc_fail_size = 0;
	CHECK(strstr(err, "out of memory") != NULL);
	/* and with memory it works */
	CHECK((tc = tls_ctx_new(cfg, err, sizeof(err))) != NULL);
	tls_ctx_free(tc);
	config_free(cfg);
	snprintf(err, sizeof(err), "rm -rf %s", dir);
	CHECK(system(err) == 0);
	TEST_REPORT();
}
#endif

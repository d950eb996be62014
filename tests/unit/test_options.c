/*
 * Unit tests for options.c: websocketd command lines, flag forms,
 * usage errors (exit 2) and -c with flags overriding the file.
 */
#include <stdarg.h>
#include <unistd.h>

#include "test.h"
#include "options.h"

static char	 errbuf[4096];

/* Parse a NULL-terminated list of words; errors land in errbuf. */
static int
parse(struct options *opts, struct config **cfg, ...)
{
	char	*argv[64], *buf = NULL;
	size_t	 len = 0;
	int	 argc = 0, rc;
	FILE	*errfp = open_memstream(&buf, &len);
	va_list	 ap;

	argv[argc++] = "wsbridge";
	va_start(ap, cfg);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	rc = options_parse(argc, argv, opts, cfg, errfp);
	fclose(errfp);
	snprintf(errbuf, sizeof(errbuf), "%s", buf);
	free(buf);
	return rc;
}

#define PARSE(...)	parse(&opts, &cfg, __VA_ARGS__, (char *)NULL)

static void
test_websocketd_lines(void)
{
	struct options	 opts;
	struct config	*cfg;
	struct route	*r;

	CHECK_EQ(PARSE("--port=8080", "./x"), 0);
	CHECK_EQ(cfg->nroutes, 1);
	r = cfg->routes[0];
	CHECK(r->prefix && strcmp(r->path, "") == 0);
	CHECK_EQ(r->kind, BACKEND_EXEC);
	CHECK_STR(r->argv.v[0], "./x");
	/* --port alone: IPv4 and IPv6 (issue 17), as websocketd's ":PORT" */
	CHECK_EQ(cfg->nlistens, 2);
	CHECK_STR(cfg->listens[0].spec, "0.0.0.0:8080");
	CHECK_STR(cfg->listens[1].spec, "[::]:8080");
	config_free(cfg);

	CHECK_EQ(PARSE("-port", "8080", "cat"), 0);
	CHECK_STR(cfg->routes[0]->argv.v[0], "cat");
	CHECK_STR(cfg->listens[0].spec, "0.0.0.0:8080");
	config_free(cfg);

	CHECK_EQ(PARSE("--port", "8080", "--binary", "cat", "-n", "--x"), 0);
	r = cfg->routes[0];
	CHECK_EQ(r->argv.n, 3);
	CHECK_STR(r->argv.v[1], "-n");
	CHECK_STR(r->argv.v[2], "--x");
	CHECK_EQ(r->mode, MODE_BINARY);
	config_free(cfg);

	CHECK_EQ(PARSE("--", "--weird", "a"), 0);
	CHECK_STR(cfg->routes[0]->argv.v[0], "--weird");
	config_free(cfg);
}

static void
test_usage_errors(void)
{
	struct options	 opts;
	struct config	*cfg;

	CHECK_EQ(PARSE("--port"), 2);
	CHECK_STR(errbuf, "wsbridge: --port: missing value\n");
	CHECK(cfg == NULL);
	CHECK_EQ(PARSE("--bogus", "cat"), 2);
	CHECK_STR(errbuf, "wsbridge: --bogus: unknown flag (see --help)\n");
	/* Named as typed (issue 17): "-v", not "--v". */
	CHECK_EQ(PARSE("-bogus=1", "cat"), 2);
	CHECK_STR(errbuf, "wsbridge: -bogus: unknown flag (see --help)\n");
	CHECK_EQ(PARSE("-v"), 2);
	CHECK_STR(errbuf, "wsbridge: -v: unknown flag (see --help)\n");
	CHECK_EQ(PARSE("--port", "abc", "cat"), 2);
	CHECK_STR(errbuf, "wsbridge: --port: invalid number \"abc\"\n");
	CHECK_EQ(PARSE("--port=70000", "cat"), 2);
	CHECK_EQ(PARSE("--maxforks", "-1", "cat"), 2);
	CHECK_STR(errbuf, "wsbridge: --maxforks: \"-1\" out of range "
	    "(0 to 2147483647)\n");
	CHECK_EQ(PARSE("--maxforks", "x", "cat"), 2);
	CHECK_STR(errbuf, "wsbridge: --maxforks: invalid number \"x\"\n");
	CHECK_EQ(PARSE("--closems", "1s", "cat"), 2);
	CHECK_STR(errbuf, "wsbridge: --closems: invalid number \"1s\"\n");
	CHECK_EQ(PARSE("--max-message-size", "abc", "cat"), 2);
	CHECK_STR(errbuf, "wsbridge: --max-message-size: invalid size "
	    "\"abc\" (a number with K, M or G)\n");
	CHECK_EQ(PARSE("--ping-interval=10", "cat"), 2);
	CHECK_EQ(PARSE("--binary=maybe", "cat"), 2);
	CHECK_STR(errbuf, "wsbridge: --binary: invalid boolean \"maybe\"\n");
	CHECK_EQ(PARSE("--loglevel", "loud", "cat"), 2);
	CHECK_EQ(PARSE("--header", "bad header", "cat"), 2);
	CHECK_EQ(PARSE("--port", "8080"), 2);
	CHECK_STR(errbuf, "wsbridge: no backend: give a COMMAND, --dir, "
	    "--connect, --echo, --staticdir or --cgidir (or -c FILE)\n");
	CHECK_EQ(PARSE("--echo", "cat"), 2);
	CHECK_EQ(PARSE("--echo", "--connect", "localhost:1"), 2);
	CHECK_STR(errbuf, "wsbridge: --connect: only one of COMMAND, --dir, "
	    "--connect, --echo (also got --echo)\n");
	CHECK(cfg == NULL);
}

static void
test_flags(void)
{
	struct options	 opts;
	struct config	*cfg;
	struct route	*r;

	CHECK_EQ(PARSE("--closems", "250", "--origin",
	    "example.com, http://a.org:8080 ,b.net:81", "--sameorigin",
	    "--passenv", "PATH,HOME", "--maxforks=3", "--loglevel", "trace",
	    "--header", "X-A: 1", "--header", "X-B: 2", "--header-ws",
	    "X-W: 1", "--max-message-size", "64K", "--ping-interval", "5s",
	    "--devconsole", "--workers", "auto", "cat"), 0);
	r = cfg->routes[0];
	CHECK_EQ(cfg->limits.close_grace_ms, 250);
	CHECK_EQ(r->origins.n, 3);
	CHECK_STR(r->origins.v[1], "http://a.org:8080");
	CHECK_STR(r->origins.v[2], "b.net:81");
	CHECK(r->same_origin);
	CHECK_STR(r->pass_env.v[1], "HOME");
	CHECK_EQ(r->max_connections, 3);
	CHECK_EQ(cfg->log_level, LOG_LEVEL_DEBUG);
	CHECK_EQ(cfg->headers.n, 2);
	CHECK_STR(cfg->headers_ws.v[0], "X-W: 1");
	CHECK_EQ(cfg->limits.max_message_size, 65536);
	CHECK_EQ(cfg->limits.ping_interval_ms, 5000);
	CHECK(cfg->devconsole);
	CHECK_EQ(cfg->workers, 0);
	CHECK_EQ(config_finish(cfg, stderr), 0);
	CHECK_EQ(r->limits.close_grace_ms, 250);
	CHECK_EQ(r->headers.n, 2);
	config_free(cfg);

	CHECK_EQ(PARSE("--loglevel=fatal", "--binary=false", "--pty", "sh"),
	    0);
	CHECK_EQ(cfg->log_level, LOG_LEVEL_ERROR);
	CHECK_EQ(cfg->routes[0]->mode, MODE_PTY);
	config_free(cfg);
}

static void
test_backends(void)
{
	struct options	 opts;
	struct config	*cfg;

	CHECK_EQ(PARSE("--echo"), 0);
	CHECK_EQ(cfg->routes[0]->kind, BACKEND_ECHO);
	CHECK_EQ(config_finish(cfg, stderr), 0);
	CHECK_STR(cfg->listens[0].spec, CONFIG_DEFAULT_LISTEN);
	config_free(cfg);

	CHECK_EQ(PARSE("--connect", "127.0.0.1:5900"), 0);
	CHECK_EQ(cfg->routes[0]->kind, BACKEND_CONNECT);
	CHECK_EQ(config_finish(cfg, stderr), 0);
	CHECK_EQ(cfg->routes[0]->mode, MODE_BINARY);
	config_free(cfg);

	CHECK_EQ(PARSE("--dir=/tmp", "--address", "::1", "--address",
	    "127.0.0.1", "--port", "9001"), 0);
	CHECK_EQ(cfg->routes[0]->kind, BACKEND_DIR);
	CHECK_EQ(cfg->nlistens, 2);
	CHECK_STR(cfg->listens[0].spec, "[::1]:9001");
	CHECK_STR(cfg->listens[1].spec, "127.0.0.1:9001");
	config_free(cfg);

	CHECK_EQ(PARSE("--ssl", "--sslcert", "/dev/null", "--sslkey",
	    "/dev/null", "--port", "8443", "cat"), 0);
	CHECK(cfg->listens[0].tls);
	CHECK_STR(cfg->tls_cert, "/dev/null");
	CHECK_EQ(config_finish(cfg, stderr), 0);
	config_free(cfg);

	/* Without -c there is nowhere else to take them from: usage. */
	CHECK_EQ(PARSE("--ssl", "--port", "8443", "cat"), 2);
	CHECK(cfg == NULL);
	CHECK_EQ(PARSE("--ssl", "--sslcert", "/dev/null", "--port", "8443",
	    "cat"), 2);
	CHECK(cfg == NULL);

	CHECK_EQ(PARSE("no-such-command-xyz"), 0);
	CHECK_EQ(config_finish(cfg, NULL), 1);
	config_free(cfg);
}

static const char conf[] =
    "[server]\n"
    "listen = 127.0.0.1:9000\n"
    "ping_interval = 5s\n"
    "header = X-File: 1\n"
    "[route /e]\n"
    "echo = yes\n";

static const char *
write_conf(char *path, const char *text)
{
	FILE	*fp;
	int	 fd;

	strcpy(path, "/tmp/wsbridge-opt-XXXXXX");
	if ((fd = mkstemp(path)) == -1 || (fp = fdopen(fd, "w")) == NULL)
		exit(1);
	fputs(text, fp);
	fclose(fp);
	return path;
}

static void
test_config_file(void)
{
	struct options	 opts;
	struct config	*cfg;
	char		 path[64], want[256];

	write_conf(path, conf);
	CHECK_EQ(PARSE("-c", path), 0);
	CHECK_STR(opts.config_path, path);
	CHECK_EQ(cfg->nroutes, 1);
	CHECK_STR(cfg->listens[0].spec, "127.0.0.1:9000");
	CHECK_EQ(cfg->limits.ping_interval_ms, 5000);
	config_free(cfg);

	CHECK_EQ(PARSE("--port", "9100", "-c", path, "--ping-interval=1s",
	    "--header", "X-Flag: 2", "--check"), 0);
	CHECK(opts.check);
	CHECK_EQ(cfg->nlistens, 1);
	/* issue 17: --port moves the file's listener, it does not widen it */
	CHECK_STR(cfg->listens[0].spec, "127.0.0.1:9100");
	CHECK_EQ(cfg->limits.ping_interval_ms, 1000);
	CHECK_EQ(cfg->headers.n, 1);
	CHECK_STR(cfg->headers.v[0], "X-Flag: 2");
	CHECK_EQ(config_finish(cfg, stderr), 0);
	config_free(cfg);

	CHECK_EQ(PARSE("-c", path, "--binary"), 2);
	CHECK_STR(errbuf, "wsbridge: --binary: not allowed with -c (set it "
	    "in a [route] section)\n");
	CHECK_EQ(PARSE("-c", path, "cat"), 2);
	unlink(path);

	write_conf(path, "[server]\nbogus = 1\n");
	CHECK_EQ(PARSE("-c", path), 1);
	/* The checks run too, so every error shows in one run. */
	snprintf(want, sizeof(want), "%s:2: [server]: unknown key "
	    "\"bogus\"\nwsbridge: %s: no routes\n", path, path);
	CHECK_STR(errbuf, want);
	CHECK(cfg == NULL);
	/* a usage error wins over the file's errors */
	CHECK_EQ(PARSE("-c", path, "--port", "x"), 2);
	unlink(path);
	CHECK_EQ(PARSE("-c", "/nonexistent.ini"), 1);
	/* One error, not also "no routes" (issue 17). */
	CHECK_STR(errbuf, "wsbridge: /nonexistent.ini: No such file or "
	    "directory\n");
	CHECK_EQ(PARSE("-c", "/tmp"), 1);
	CHECK_STR(errbuf, "wsbridge: /tmp: Is a directory\n");
}

/* Collects config_exposed()'s messages, one a line. */
static void
collect(const char *msg, void *arg)
{
	strcat(arg, msg);
	strcat(arg, "\n");
}

/* Issue 17: --port with -c keeps the file's addresses, only the port. */
static void
test_port_keeps_addresses(void)
{
	struct options	 opts;
	struct config	*cfg;
	char		 path[64];

	write_conf(path, "[server]\nlisten = 127.0.0.1:8080\n"
	    "listen = [::1]:8080 proxy_protocol\nlisten = unix:/tmp/x.sock\n"
	    "listen = localhost\n[tls]\nlisten = 127.0.0.2:8443\n"
	    "[route /e]\necho = yes\n");
	CHECK_EQ(PARSE("-c", path, "--port", "9100"), 0);
	CHECK_EQ(cfg->nlistens, 5);
	CHECK_STR(cfg->listens[0].spec, "127.0.0.1:9100");
	CHECK_STR(cfg->listens[1].spec, "[::1]:9100");
	CHECK(cfg->listens[1].proxy_protocol && !cfg->listens[1].tls);
	CHECK_STR(cfg->listens[2].spec, "unix:/tmp/x.sock");
	CHECK_STR(cfg->listens[3].spec, "localhost:9100");
	CHECK_STR(cfg->listens[4].spec, "127.0.0.2:9100");
	CHECK(cfg->listens[4].tls);
	config_free(cfg);
	/* --address still replaces them */
	CHECK_EQ(PARSE("-c", path, "--port", "9100", "--address", "::1"), 0);
	CHECK_EQ(cfg->nlistens, 1);
	CHECK_STR(cfg->listens[0].spec, "[::1]:9100");
	config_free(cfg);
	unlink(path);

	/* a file without listen keys means 127.0.0.1, and so does --port */
	write_conf(path, "[route /e]\necho = yes\n");
	CHECK_EQ(PARSE("--config", path, "--port=9101"), 0);
	CHECK_EQ(cfg->nlistens, 1);
	CHECK_STR(cfg->listens[0].spec, "127.0.0.1:9101");
	config_free(cfg);
	unlink(path);
}

/* Issue 17: --sslcert/--sslkey without a TLS listener would be plain ws. */
static void
test_ssl_files_need_ssl(void)
{
	struct options	 opts;
	struct config	*cfg;
	char		 path[64];

	CHECK_EQ(PARSE("--port", "8443", "--sslcert", "/dev/null", "--sslkey",
	    "/dev/null", "--echo"), 2);
	CHECK(cfg == NULL);
	CHECK(strncmp(errbuf, "wsbridge: --sslcert: no TLS listener", 36) == 0);
	CHECK_EQ(PARSE("--sslkey", "/dev/null", "--echo"), 2);
	CHECK(strncmp(errbuf, "wsbridge: --sslkey: no TLS listener", 35) == 0);
	write_conf(path, "[route /e]\necho = yes\n");
	CHECK_EQ(PARSE("-c", path, "--sslcert", "/dev/null"), 2);
	unlink(path);
	/* a [tls] listener in the file takes them */
	write_conf(path, "[tls]\nlisten = 127.0.0.1:8443\n"
	    "[route /e]\necho = yes\n");
	CHECK_EQ(PARSE("-c", path, "--sslcert", "/dev/null", "--sslkey",
	    "/dev/null"), 0);
	CHECK_STR(cfg->tls_cert, "/dev/null");
	config_free(cfg);
	unlink(path);
}

/* Issue 17: programs for anyone on a non-loopback listener are named. */
static void
test_exposed(void)
{
	struct options	 opts;
	struct config	*cfg;
	char		 path[64], got[4096];

	write_conf(path, "[server]\nlisten = 127.0.0.1:1\nlisten = [::1]:1\n"
	    "listen = unix:/tmp/wsb-x.sock\n"
	    "[route /t]\nexec = /bin/sh\nmode = pty\n"
	    "[route /e]\necho = yes\n[route /v]\nconnect = 127.0.0.1:1\n"
	    "[route /d/*]\ndir = /tmp\n"
	    "[route /a]\nexec = /bin/sh\nauth = basic\n"
	    "auth_file = /dev/null\n");
	got[0] = '\0';
	CHECK_EQ(PARSE("-c", path), 0);
	CHECK_EQ(config_finish(cfg, stderr), 0);
	CHECK_EQ(config_exposed(cfg, collect, got), 0);
	CHECK_STR(got, "");
	config_free(cfg);
	/* --address 0.0.0.0 widens it: /t and /d, not echo, connect, auth */
	CHECK_EQ(PARSE("-c", path, "--address", "0.0.0.0", "--address", "::",
	    "--port", "1"), 0);
	CHECK_EQ(config_finish(cfg, stderr), 0);
	CHECK_EQ(config_exposed(cfg, collect, got), 2);
	CHECK_STR(got, "route /t gives a terminal running /bin/sh for anyone "
	    "who reaches 0.0.0.0:1, [::]:1, without auth or client_ca: "
	    "listen on 127.0.0.1 or set auth\n"
	    "route /d/* runs the programs in /tmp for anyone who reaches "
	    "0.0.0.0:1, [::]:1, without auth or client_ca: listen on "
	    "127.0.0.1 or set auth\n");
	config_free(cfg);
	unlink(path);
	/* 127.0.0.0/8 and ::ffff:127.0.0.1 are loopback */
	got[0] = '\0';
	CHECK_EQ(PARSE("--address", "127.0.0.9", "--address",
	    "::ffff:127.0.0.1", "--port", "1", "--pty", "/bin/sh"), 0);
	CHECK_EQ(config_finish(cfg, stderr), 0);
	CHECK_EQ(config_exposed(cfg, collect, got), 0);
	config_free(cfg);
}

static void
test_help(void)
{
	struct options	 opts;
	struct config	*cfg;
	char		*buf = NULL;
	size_t		 len = 0;
	FILE		*fp;

	CHECK_EQ(PARSE("--help"), 0);
	CHECK(opts.help && cfg == NULL);
	CHECK_EQ(PARSE("-version"), 0);
	CHECK(opts.version && cfg == NULL);
	fp = open_memstream(&buf, &len);
	options_usage(fp);
	fclose(fp);
	CHECK(strstr(buf, "--max-message-size SIZE") != NULL);
	CHECK(strstr(buf, "--closems MS") != NULL);
	CHECK(strstr(buf, "-c FILE") != NULL);
	CHECK(strstr(buf, "websocketd compatibility") != NULL);
	free(buf);
}

int
main(void)
{
	test_websocketd_lines();
	test_usage_errors();
	test_flags();
	test_backends();
	test_config_file();
	test_port_keeps_addresses();
	test_ssl_files_need_ssl();
	test_exposed();
	test_help();
	TEST_REPORT();
}

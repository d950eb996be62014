/*
 * Unit tests for the config*.c modules: value parsers, every key, each
 * error with its FILE:LINE, route matching, argv splitting, addresses and
 * the shipped conf/wsbridge.ini.
 */
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <unistd.h>

#include "test.h"
#include "config.h"

static char	 tmp_path[64];

/* Write text to a new temporary file; its name goes to tmp_path. */
static const char *
write_tmp(const char *text)
{
	FILE	*fp;
	int	 fd;

	strcpy(tmp_path, "/tmp/wsbridge-test-XXXXXX");
	if ((fd = mkstemp(tmp_path)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		perror("mkstemp");
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
	return tmp_path;
}

/*
 * Load text (and config_finish() it if finish); the error lines, with
 * the temp file's name replaced by "F", go to out. Returns the count.
 */
static int
load(const char *text, bool finish, char *out, size_t outlen,
    struct config **cfgp)
{
	struct config	*cfg = config_new();
	char		*buf = NULL, *p, *q;
	size_t		 len = 0, plen;
	FILE		*errfp = open_memstream(&buf, &len);
	int		 n;

	n = config_load(cfg, write_tmp(text), errfp);
	if (n == 0 && finish)
		n = config_finish(cfg, errfp);
	config_report(cfg);
	fclose(errfp);
	unlink(tmp_path);
	plen = strlen(tmp_path);
	for (p = buf, q = out; *p != '\0' && q < out + outlen - 2;) {
		if (strncmp(p, tmp_path, plen) == 0) {
			*q++ = 'F';
			p += plen;
		} else
			*q++ = *p++;
	}
	*q = '\0';
	free(buf);
	if (cfgp != NULL)
		*cfgp = cfg;
	else
		config_free(cfg);
	return n;
}

/* One error expected: its whole text. */
static void
check_error(const char *text, bool finish, const char *want)
{
	char	 out[4096];

	CHECK_EQ(load(text, finish, out, sizeof(out), NULL), 1);
	CHECK_STR(out, want);
}

static void
test_parsers(void)
{
	int64_t	 v;
	bool	 b;

	CHECK(config_parse_duration("500ms", &v) == 0 && v == 500);
	CHECK(config_parse_duration("10s", &v) == 0 && v == 10000);
	CHECK(config_parse_duration("5m", &v) == 0 && v == 300000);
	CHECK(config_parse_duration("1h", &v) == 0 && v == 3600000);
	CHECK(config_parse_duration("0", &v) == 0 && v == 0);
	CHECK_EQ(config_parse_duration("10", &v), -1);
	CHECK_EQ(config_parse_duration("10x", &v), -1);
	CHECK_EQ(config_parse_duration("10 s", &v), -1);
	CHECK_EQ(config_parse_duration("-1s", &v), -1);
	CHECK_EQ(config_parse_duration("", &v), -1);
	CHECK_EQ(config_parse_duration("9223372036854775807h", &v), -1);
	CHECK_EQ(config_parse_duration("99999999999999999999ms", &v), -1);
	CHECK(config_parse_size("64K", &v) == 0 && v == 65536);
	CHECK(config_parse_size("1M", &v) == 0 && v == 1048576);
	CHECK(config_parse_size("2G", &v) == 0 && v == 2147483648LL);
	CHECK(config_parse_size("4096", &v) == 0 && v == 4096);
	CHECK_EQ(config_parse_size("1X", &v), -1);
	CHECK_EQ(config_parse_size("1KB", &v), -1);
	CHECK_EQ(config_parse_size("K", &v), -1);
	CHECK_EQ(config_parse_size("9223372036854775807K", &v), -1);
	CHECK(config_parse_bool("yes", &b) == 0 && b);
	CHECK(config_parse_bool("on", &b) == 0 && b);
	CHECK(config_parse_bool("true", &b) == 0 && b);
	CHECK(config_parse_bool("1", &b) == 0 && b);
	CHECK(config_parse_bool("off", &b) == 0 && !b);
	CHECK(config_parse_bool("0", &b) == 0 && !b);
	CHECK_EQ(config_parse_bool("maybe", &b), -1);
	CHECK_EQ(config_parse_bool("yes ", &b), -1);
	CHECK(config_parse_int("42", 0, 100, &v) == 0 && v == 42);
	CHECK_EQ(config_parse_int("101", 0, 100, &v), -1);
	CHECK_EQ(config_parse_int("4x", 0, 100, &v), -1);
	CHECK_EQ(config_parse_int(" 4", 0, 100, &v), -1);
	CHECK_EQ(config_parse_int("+4", 0, 100, &v), -1);
	CHECK(config_parse_int("-4", -10, 10, &v) == 0 && v == -4);
	CHECK_EQ(config_parse_int("-4", 0, 10, &v), -1);
}

static void
test_defaults(void)
{
	struct config	*cfg = config_new();

	CHECK_EQ(cfg->workers, 1);
	CHECK_EQ(cfg->max_connections, CONFIG_MAX_CONNECTIONS);
	CHECK_EQ(cfg->handshake_timeout_ms, CONFIG_HANDSHAKE_TIMEOUT_MS);
	CHECK_EQ(cfg->close_timeout_ms, CONFIG_CLOSE_TIMEOUT_MS);
	CHECK_EQ(cfg->shutdown_timeout_ms, CONFIG_SHUTDOWN_TIMEOUT_MS);
	CHECK_EQ(cfg->max_header_size, CONFIG_MAX_HEADER_SIZE);
	CHECK_EQ(cfg->log_level, LOG_LEVEL_INFO);
	CHECK_EQ(cfg->limits.max_message_size, CONFIG_MAX_MESSAGE_SIZE);
	CHECK_EQ(cfg->limits.buffer_size, CONFIG_BUFFER_SIZE);
	CHECK_EQ(cfg->limits.ping_interval_ms, CONFIG_PING_INTERVAL_MS);
	CHECK_EQ(cfg->limits.ping_timeout_ms, CONFIG_PING_TIMEOUT_MS);
	CHECK_EQ(cfg->limits.idle_timeout_ms, CONFIG_IDLE_TIMEOUT_MS);
	CHECK_EQ(cfg->limits.close_grace_ms, CONFIG_CLOSE_GRACE_MS);
	CHECK_EQ(cfg->limits.connect_timeout_ms, CONFIG_CONNECT_TIMEOUT_MS);
	CHECK_EQ(cfg->nroutes, 0);
	CHECK_EQ(cfg->nlistens, 0);
	config_free(cfg);
}

static const char all_server[] =
    "[server]\n"
    "listen = 127.0.0.1:9001\n"
    "listen = [::1]:9002\n"
    "workers = auto\n"
    "max_connections = 50\n"
    "handshake_timeout = 3s\n"
    "close_timeout = 2s\n"
    "shutdown_timeout = 1m\n"
    "max_header_size = 8K\n"
    "static_dir = /tmp\n"
    "devconsole = on\n"
    "user = root\n"
    "group = root\n"
    "log_level = debug\n"
    "access_log = /tmp/access.log\n"
    "max_message_size = 64K\n"
    "buffer_size = 1M\n"
    "ping_interval = 5s\n"
    "ping_timeout = 500ms\n"
    "idle_timeout = 1h\n"
    "close_grace = 250ms\n"
    "connect_timeout = 2s\n"
    "header = X-A: 1\n"
    "header_ws = X-B: 2\n"
    "header_http = X-C: 3\n"
    "[tls]\n"
    "listen = 127.0.0.1:9443\n"
    "cert = /dev/null\n"
    "key = /dev/null\n"
    "client_ca = /dev/null\n";

static const char all_route[] =
    "[route /a]\n"
    "exec = cat -n 'a b'\n"
    "mode = pty\n"
    "origins = http://localhost:*, https://example.com\n"
    "same_origin = yes\n"
    "protocols = binary,base64\n"
    "require_protocol = true\n"
    "max_connections = 7\n"
    "pass_env = PATH, LANG\n"
    "env = GREETING=hello\n"
    "env = X=1\n"
    "cwd = /tmp\n"
    "header = X-R: 1\n"
    "compression = yes\n"
    "readonly = yes\n"
    "term = vt100\n"
    "max_message_size = 1K\n"
    "close_grace = 1s\n"
    "[route /b/*]\n"
    "connect = 127.0.0.1:5900\n"
    "[route /*]\n"
    "dir = /tmp\n"
    "[route /e]\n"
    "echo = yes\n";

static void
test_server_keys(const struct config *cfg)
{
	CHECK_EQ(cfg->nlistens, 3);
	CHECK_STR(cfg->listens[0].spec, "127.0.0.1:9001");
	CHECK_EQ(cfg->listens[1].addr.ss_family, AF_INET6);
	CHECK(cfg->listens[2].tls && !cfg->listens[0].tls);
	CHECK_EQ(cfg->listens[2].line, 27);
	CHECK_EQ(cfg->workers, 0);
	CHECK_EQ(cfg->max_connections, 50);
	CHECK_EQ(cfg->handshake_timeout_ms, 3000);
	CHECK_EQ(cfg->close_timeout_ms, 2000);
	CHECK_EQ(cfg->shutdown_timeout_ms, 60000);
	CHECK_EQ(cfg->max_header_size, 8192);
	CHECK_STR(cfg->static_dir, "/tmp");
	CHECK(cfg->devconsole);
	CHECK_STR(cfg->user, "root");
	CHECK_STR(cfg->group, "root");
	CHECK_EQ(cfg->log_level, LOG_LEVEL_DEBUG);
	CHECK_STR(cfg->access_log, "/tmp/access.log");
	CHECK_EQ(cfg->limits.max_message_size, 65536);
	CHECK_EQ(cfg->limits.buffer_size, 1048576);
	CHECK_EQ(cfg->limits.ping_interval_ms, 5000);
	CHECK_EQ(cfg->limits.ping_timeout_ms, 500);
	CHECK_EQ(cfg->limits.idle_timeout_ms, 3600000);
	CHECK_EQ(cfg->limits.close_grace_ms, 250);
	CHECK_EQ(cfg->limits.connect_timeout_ms, 2000);
	CHECK_STR(cfg->headers.v[0], "X-A: 1");
	CHECK_STR(cfg->headers_ws.v[0], "X-B: 2");
	CHECK_STR(cfg->headers_http.v[0], "X-C: 3");
	CHECK_STR(cfg->tls_cert, "/dev/null");
	CHECK_STR(cfg->tls_key, "/dev/null");
	CHECK_STR(cfg->tls_client_ca, "/dev/null");
}

static void
test_route_a(const struct route *r)
{
	CHECK_STR(r->path, "/a");
	CHECK(!r->prefix);
	CHECK_EQ(r->kind, BACKEND_EXEC);
	CHECK_EQ(r->argv.n, 3);
	CHECK_STR(r->argv.v[0], "/usr/bin/cat");
	CHECK_STR(r->argv.v[2], "a b");
	CHECK_EQ(r->mode, MODE_PTY);
	CHECK_EQ(r->origins.n, 2);
	CHECK_STR(r->origins.v[1], "https://example.com");
	CHECK(r->same_origin && r->require_protocol);
	CHECK_STR(r->protocols.v[1], "base64");
	CHECK_EQ(r->max_connections, 7);
	CHECK_EQ(r->pass_env.n, 2);
	CHECK_STR(r->pass_env.v[1], "LANG");
	CHECK_EQ(r->env.n, 2);
	CHECK_STR(r->env.v[0], "GREETING=hello");
	CHECK_STR(r->cwd, "/tmp");
	CHECK_EQ(r->headers.n, 1);
	CHECK_STR(r->headers.v[0], "X-R: 1");
	CHECK_STR(r->headers_ws.v[0], "X-B: 2");	/* inherited */
	CHECK(r->compression && r->readonly);
	CHECK_STR(r->term, "vt100");
	CHECK_EQ(r->limits.max_message_size, 1024);
	CHECK_EQ(r->limits.close_grace_ms, 1000);
	CHECK_EQ(r->limits.ping_interval_ms, 5000);	/* inherited */
	CHECK_EQ(r->line, 31);
}

static void
test_other_routes(const struct config *cfg)
{
	const struct route		*r;
	const struct sockaddr_in	*sin;

	r = cfg->routes[1];
	CHECK_STR(r->path, "/b");
	CHECK(r->prefix);
	CHECK_EQ(r->kind, BACKEND_CONNECT);
	CHECK_EQ(r->mode, MODE_BINARY);
	sin = (const struct sockaddr_in *)&r->addr;
	CHECK_EQ(sin->sin_family, AF_INET);
	CHECK_EQ(ntohs(sin->sin_port), 5900);
	CHECK_EQ(r->pass_env.n, 2);		/* PATH, LD_LIBRARY_PATH */
	CHECK_STR(r->pass_env.v[0], "PATH");
	r = cfg->routes[2];
	CHECK_STR(r->path, "");
	CHECK(r->prefix);
	CHECK_EQ(r->kind, BACKEND_DIR);
	CHECK_EQ(r->mode, MODE_TEXT);
	r = cfg->routes[3];
	CHECK_EQ(r->kind, BACKEND_ECHO);
	CHECK_EQ(r->limits.max_message_size, 65536);
}

static void
test_all_keys(void)
{
	struct config	*cfg;
	char		 text[4096], out[4096];

	snprintf(text, sizeof(text), "%s%s", all_server, all_route);
	CHECK_EQ(load(text, true, out, sizeof(out), &cfg), 0);
	CHECK_STR(out, "");
	CHECK_EQ(cfg->nroutes, 4);
	test_server_keys(cfg);
	if (cfg->nroutes == 4) {
		test_route_a(cfg->routes[0]);
		test_other_routes(cfg);
	}
	config_free(cfg);
}

static void
test_errors(void)
{
	check_error("[foo]\nx = 1\n", false, "F:1: unknown section [foo]\n");
	check_error("[route /chat]\ncomand = cat\necho = yes\n", false,
	    "F:2: [route \"/chat\"]: unknown key \"comand\"\n");
	check_error("[server]\n\nhandshake_timeout = 10x\n", false,
	    "F:3: [server]: handshake_timeout: invalid duration \"10x\" "
	    "(use ms, s, m or h, e.g. 500ms, 10s)\n");
	check_error("[server]\nping_interval = 30\n", false,
	    "F:2: [server]: ping_interval: invalid duration \"30\" "
	    "(use ms, s, m or h, e.g. 500ms, 10s)\n");
	check_error("[server]\nmax_message_size = 1X\n", false,
	    "F:2: [server]: max_message_size: invalid size \"1X\" "
	    "(a number with K, M or G)\n");
	check_error("[route /e]\necho = yes\nsame_origin = maybe\n", false,
	    "F:3: [route \"/e\"]: same_origin: invalid boolean \"maybe\" "
	    "(use yes or no)\n");
	check_error("[route /e]\necho = perhaps\n", false,
	    "F:2: [route \"/e\"]: echo: invalid boolean \"perhaps\" "
	    "(use yes or no)\n");
	check_error("[server]\nmax_connections = 12abc\n", false,
	    "F:2: [server]: max_connections: invalid number \"12abc\"\n");
	check_error("[server]\nmax_connections = 0\n", false,
	    "F:2: [server]: max_connections: \"0\" out of range "
	    "(1 to 2147483647)\n");
	check_error("\n[route /a]\nmode = text\n", false,
	    "F:2: [route \"/a\"]: no backend: give exec, dir, connect, "
	    "targets, echo = yes or view\n");
	check_error("[route /a]\necho = yes\nexec = cat\n[server]\n", false,
	    "F:1: [route \"/a\"]: more than one backend (exec, echo)\n");
	check_error("[route /a]\necho = yes\n[route /a]\necho = yes\n", true,
	    "F:3: [route \"/a\"]: duplicate route (first on line 1)\n");
	check_error("[route /a]\nexec = no-such-command-xyz -v\n", true,
	    "F:2: [route \"/a\"]: exec: \"no-such-command-xyz\": command "
	    "not found\n");
	check_error("[route /a]\nexec = /nonexistent/x\n", true,
	    "F:2: [route \"/a\"]: exec: \"/nonexistent/x\": No such file or "
	    "directory\n");
	check_error("[route /a]\nexec = cat 'x\n", false,
	    "F:2: [route \"/a\"]: exec: unterminated single quote\n");
	check_error("[server]\nworkers = 2\nworkers = 3\n", false,
	    "F:3: [server]: duplicate key \"workers\" (first on line 2)\n");
	check_error("listen = :80\n", false,
	    "F:1: key \"listen\" outside a section\n");
	check_error("[route chat]\necho = yes\n", false,
	    "F:1: [route \"chat\"]: route path must start with '/'\n");
	check_error("[server]\n[server]\n", false,
	    "F:2: duplicate section [server] (first on line 1)\n");
	check_error("[route /d]\ndir = /nonexistent\n", true,
	    "F:2: [route \"/d\"]: dir \"/nonexistent\": No such file or "
	    "directory\n");
	check_error("[route /c]\nconnect = 127.0.0.1\n", true,
	    "F:2: [route \"/c\"]: connect \"127.0.0.1\": missing port\n");
	check_error("[route /e]\necho = yes\nheader = X Y: z\n", false,
	    "F:3: [route \"/e\"]: header: invalid header \"X Y: z\" "
	    "(want Name: value)\n");
	check_error("[route /e]\necho = yes\nenv = 1X=a\n", false,
	    "F:3: [route \"/e\"]: env: invalid variable \"1X=a\" "
	    "(want NAME=value)\n");
	check_error("[server]\nlog_level = loud\n", false,
	    "F:2: [server]: log_level: invalid log level \"loud\" "
	    "(error, warn, info, access or debug)\n");
	check_error("[server]\nlisten\n", false,
	    "F:2: expected \"key = value\"\n");
	check_error("[tls]\nlisten = 127.0.0.1:8443\n[route /e]\necho=yes\n",
	    true, "F:2: [tls]: a TLS listener needs cert and key "
	    "(--sslcert, --sslkey)\n");
	check_error("[tls]\nlisten = 127.0.0.1:8443\ncert = /nonexistent\n"
	    "key = /dev/null\n[route /e]\necho=yes\n", true,
	    "F:3: [tls]: cert \"/nonexistent\": No such file or directory\n");
	check_error("[server]\nstatic_dir = /nonexistent\n[route /e]\n"
	    "echo = yes\n", true, "F:2: [server]: static_dir \"/nonexistent\""
	    ": No such file or directory\n");
	check_error("[route /e]\necho = yes\nmode = loud\n", false,
	    "F:3: [route \"/e\"]: mode: invalid mode \"loud\" "
	    "(text, binary or pty)\n");
}

/*
 * Issue 12: errors come out in file order, whichever check found them
 * first (exec and cwd are checked after the file, static_dir last);
 * two on one line stay in the order found.
 */
static void
test_error_order(void)
{
	char	 out[4096];

	CHECK_EQ(load("[server]\nstatic_dir = /nonexistent-d\n[route /a]\n"
	    "cwd = /nonexistent-c\nexec = /nonexistent-x\n", true, out,
	    sizeof(out), NULL), 3);
	CHECK_STR(out, "F:2: [server]: static_dir \"/nonexistent-d\": "
	    "No such file or directory\n"
	    "F:4: [route \"/a\"]: cwd \"/nonexistent-c\": "
	    "No such file or directory\n"
	    "F:5: [route \"/a\"]: exec: \"/nonexistent-x\": "
	    "No such file or directory\n");
	CHECK_EQ(load("[route /a]\necho = yes\n[route /a]\nmode = pty\n"
	    "connect = 127.0.0.1:1\n", true, out, sizeof(out), NULL), 2);
	CHECK_STR(out, "F:3: [route \"/a\"]: mode = pty needs exec or dir\n"
	    "F:3: [route \"/a\"]: duplicate route (first on line 1)\n");
}

/* A file without any x bit is refused (even for root). */
static void
test_not_executable(void)
{
	char	 text[256], want[256], out[1024], path[64];
	int	 fd;

	strcpy(path, "/tmp/wsbridge-noexec-XXXXXX");
	if ((fd = mkstemp(path)) == -1)
		return;
	close(fd);
	snprintf(text, sizeof(text), "[route /a]\nexec = %s\n", path);
	snprintf(want, sizeof(want), "F:2: [route \"/a\"]: exec: \"%s\": "
	    "Permission denied\n", path);
	CHECK_EQ(load(text, true, out, sizeof(out), NULL), 1);
	CHECK_STR(out, want);
	snprintf(text, sizeof(text), "[route /a]\nexec = /tmp\n");
	CHECK_EQ(load(text, true, out, sizeof(out), NULL), 1);
	CHECK_STR(out, "F:2: [route \"/a\"]: exec: \"/tmp\": is a "
	    "directory\n");
	unlink(path);
}

/* Errors after an over-long or continued line keep their line numbers. */
static void
test_line_numbers(void)
{
	char	 text[1024], out[4096], longv[251];

	memset(longv, 'x', 250);
	longv[250] = '\0';
	snprintf(text, sizeof(text), "[server]\n; comment\nuser = %s\n"
	    "\nbogus = 1\n", longv);
	CHECK_EQ(load(text, false, out, sizeof(out), NULL), 2);
	CHECK_STR(out, "F:3: line too long (257 > 199 characters)\n"
	    "F:5: [server]: unknown key \"bogus\"\n");
	CHECK_EQ(load("[server]\nlisten = 127.0.0.1:80\n  127.0.0.2:80\n"
	    "bogus = 1\n", false, out, sizeof(out), NULL), 2);
	CHECK_STR(out, "F:3: indented continuation lines are not supported\n"
	    "F:4: [server]: unknown key \"bogus\"\n");
	/* indentation right after a section header is not a continuation */
	CHECK_EQ(load("[route /e]\n  echo = yes\n", true, out, sizeof(out),
	    NULL), 0);
	/* all errors are reported, not just the first */
	CHECK_EQ(load("[foo]\n[server]\nworkers = x\nnope = 1\n"
	    "[route /a]\n", false, out, sizeof(out), NULL), 4);
}

static void
test_match(void)
{
	struct config	*cfg = config_new();
	const char	*rest;
	struct route	*a = route_new("/a"), *p = route_new("/p/*");
	struct route	*pq = route_new("/p/q/*"), *all = route_new("/*");
	struct route	*pe = route_new("/p");

	config_add_route(cfg, a);
	config_add_route(cfg, p);
	config_add_route(cfg, pq);
	CHECK(config_match(cfg, "/a", &rest) == a && *rest == '\0');
	CHECK(config_match(cfg, "/a/b", &rest) == NULL);
	CHECK(config_match(cfg, "/ab", &rest) == NULL);
	CHECK(config_match(cfg, "/p", &rest) == p && *rest == '\0');
	CHECK(config_match(cfg, "/p/x/y", &rest) == p);
	CHECK_STR(rest, "/x/y");
	CHECK(config_match(cfg, "/px", &rest) == NULL);
	CHECK(config_match(cfg, "/p/q/r", &rest) == pq);
	CHECK_STR(rest, "/r");
	CHECK(config_match(cfg, "/p/qr", &rest) == p);
	CHECK(config_match(cfg, "/zzz", &rest) == NULL);
	config_add_route(cfg, all);
	config_add_route(cfg, pe);
	CHECK(config_match(cfg, "/zzz", &rest) == all);
	CHECK_STR(rest, "/zzz");
	CHECK(config_match(cfg, "/p", &rest) == pe);	/* exact beats prefix */
	CHECK(config_match(cfg, "/px", &rest) == all);
	CHECK(config_match(cfg, "/p/1", &rest) == p);
	config_free(cfg);
}

static void
check_split(const char *line, int n, const char *a0, const char *alast)
{
	struct strlist	 l = { NULL, 0 };
	const char	*why;

	CHECK_EQ(config_split_argv(line, &l, &why), 0);
	CHECK_EQ(l.n, n);
	if (l.n == (size_t)n && n > 0) {
		CHECK_STR(l.v[0], a0);
		CHECK_STR(l.v[n - 1], alast);
		CHECK(l.v[n] == NULL);
	}
	strlist_free(&l);
}

static void
test_split(void)
{
	struct strlist	 l = { NULL, 0 };
	const char	*why = NULL;

	check_split("cat", 1, "cat", "cat");
	check_split("  vmstat   1  ", 2, "vmstat", "1");
	check_split("echo 'a b' c", 3, "echo", "c");
	check_split("echo 'a b'", 2, "echo", "a b");
	check_split("echo \"a \\\"b\\\" \\n $x\"", 2, "echo",
	    "a \"b\" \\n $x");
	check_split("echo a\\ b", 2, "echo", "a b");
	check_split("echo ''", 2, "echo", "");
	check_split("echo 'a'\"b\"c", 2, "echo", "abc");
	check_split("echo '\\'", 2, "echo", "\\");
	CHECK_EQ(config_split_argv("echo 'a", &l, &why), -1);
	CHECK_STR(why, "unterminated single quote");
	CHECK_EQ(config_split_argv("echo \"a", &l, &why), -1);
	CHECK_STR(why, "unterminated double quote");
	CHECK_EQ(config_split_argv("echo a\\", &l, &why), -1);
	CHECK_STR(why, "trailing backslash");
	CHECK_EQ(config_split_argv("   ", &l, &why), -1);
	CHECK_STR(why, "empty command");
	CHECK_EQ(l.n, 0);
}

static int
addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void
test_addr(void)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*why;
	char			 buf[64];

	CHECK_EQ(config_parse_addr("127.0.0.1:80", 0, &ss, &len, &why), 0);
	CHECK(ss.ss_family == AF_INET && addr_port(&ss) == 80);
	CHECK_EQ(config_parse_addr("[::1]:81", 0, &ss, &len, &why), 0);
	CHECK(ss.ss_family == AF_INET6 && addr_port(&ss) == 81);
	CHECK_EQ(config_parse_addr(":82", 0, &ss, &len, &why), 0);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf,
	    sizeof(buf));
	CHECK_STR(buf, "0.0.0.0");
	CHECK_EQ(addr_port(&ss), 82);
	CHECK_EQ(config_parse_addr("*:83", 0, &ss, &len, &why), 0);
	CHECK_EQ(addr_port(&ss), 83);
	CHECK_EQ(config_parse_addr("84", 0, &ss, &len, &why), 0);
	CHECK(ss.ss_family == AF_INET && addr_port(&ss) == 84);
	CHECK_EQ(config_parse_addr("localhost", 8080, &ss, &len, &why), 0);
	CHECK_EQ(addr_port(&ss), 8080);
	CHECK_EQ(config_parse_addr("unix:/run/x.sock", 0, &ss, &len, &why),
	    0);
	CHECK(ss.ss_family == AF_UNIX);
	CHECK_STR(((struct sockaddr_un *)&ss)->sun_path, "/run/x.sock");
	CHECK_EQ(config_parse_addr("::1:80", 0, &ss, &len, &why), -1);
	CHECK_EQ(config_parse_addr("1.2.3.4:99999", 0, &ss, &len, &why), -1);
	CHECK_EQ(config_parse_addr("1.2.3.4:8x", 0, &ss, &len, &why), -1);
	CHECK_EQ(config_parse_addr("1.2.3.4", -1, &ss, &len, &why), -1);
	CHECK_STR(why, "missing port");
	CHECK_EQ(config_parse_addr("[::1", 0, &ss, &len, &why), -1);
}

static void
test_print(void)
{
	struct config	*cfg;
	char		 out[4096], *buf = NULL;
	size_t		 len = 0;
	FILE		*fp;

	CHECK_EQ(load("[route /echo]\nexec = /bin/cat\n[route /vnc]\n"
	    "connect = 127.0.0.1:5900\n[route /e/*]\necho = on\n", true, out,
	    sizeof(out), &cfg), 0);
	fp = open_memstream(&buf, &len);
	config_print(cfg, fp);
	fclose(fp);
	CHECK_STR(buf, "listen 127.0.0.1:8080\n"
	    "route /echo -> exec /bin/cat (text)\n"
	    "route /vnc -> connect 127.0.0.1:5900 (binary)\n"
	    "route /e/* -> echo\n");
	free(buf);
	config_free(cfg);
}

/* The shipped file loads; it finishes once examples/www exists. */
static void
test_shipped(void)
{
	struct config	*cfg = config_new();
	struct stat	 st;

	if (stat("conf/wsbridge.ini", &st) == -1 && chdir("../..") == -1)
		return;
	CHECK_EQ(config_load(cfg, "conf/wsbridge.ini", stderr), 0);
	if (stat("examples/www", &st) == 0)
		CHECK_EQ(config_finish(cfg, stderr), 0);
	CHECK_EQ(cfg->nroutes, 5);
	config_free(cfg);
}

static void
test_set(void)
{
	struct config	*cfg = config_new();
	char		 err[256];

	CHECK_EQ(config_set(cfg, NULL, "ping_interval", "2s", 0, err,
	    sizeof(err)), 0);
	CHECK_EQ(cfg->limits.ping_interval_ms, 2000);
	CHECK_EQ(config_set(cfg, NULL, "nope", "1", 0, err, sizeof(err)), -1);
	CHECK_STR(err, "unknown key \"nope\"");
	CHECK_EQ(config_set(cfg, NULL, "buffer_size", "abc", 0, err,
	    sizeof(err)), -1);
	CHECK_STR(err, "invalid size \"abc\" (a number with K, M or G)");
	config_free(cfg);
}

/* Issue 4's keys: proxies, limits, metrics, SNI, auth, send_proxy. */
static const char front_door[] =
    "[server]\n"
    "listen = 127.0.0.1:8080\n"
    "listen = 127.0.0.1:8081   proxy_protocol\n"
    "trusted_proxies = 127.0.0.1, 10.0.0.0/8, ::1, fd00::/8\n"
    "max_connections_per_ip = 20\n"
    "allow_root = yes\n"
    "access_log_format = json\n"
    "metrics_path = /metrics\n"
    "metrics_listen = 127.0.0.1:9100\n"
    "[tls]\n"
    "listen = 127.0.0.1:8443 proxy_protocol\n"
    "cert = /dev/null\n"
    "key = /dev/null\n"
    "min_version = 1.3\n"
    "[tls Example.COM]\n"
    "cert = /dev/null\n"
    "key = /dev/null\n"
    "[tls *.example.net]\n"
    "cert = /dev/null\n"
    "key = /dev/null\n"
    "[route /a]\n"
    "connect = 127.0.0.1:5900\n"
    "send_proxy = v2\n"
    "auth = basic\n"
    "auth_file = /dev/null\n"
    "auth_realm = Private area\n"
    "auth_header = X-Remote-User\n"
    "[route /t]\n"
    "targets = /dev/null\n"
    "send_proxy = v1\n";

static void
test_front_door_route(const struct config *cfg)
{
	const struct route	*r = cfg->routes[0];

	CHECK_EQ(r->send_proxy, SEND_PROXY_V2);
	CHECK_EQ(r->auth, AUTH_BASIC);
	CHECK_STR(r->auth_file, "/dev/null");
	CHECK_STR(r->auth_realm, "Private area");
	CHECK_STR(r->auth_header, "X-Remote-User");
	r = cfg->routes[1];
	CHECK_EQ(r->kind, BACKEND_TARGETS);
	CHECK_EQ(r->mode, MODE_BINARY);
	CHECK_STR(r->targets, "/dev/null");
	CHECK_EQ(r->send_proxy, SEND_PROXY_V1);
	CHECK_EQ(r->auth, AUTH_NONE);
	CHECK_STR(r->auth_realm, "wsbridge");
	CHECK(r->auth_header == NULL);
}

static void
test_front_door(void)
{
	struct config	*cfg;
	char		 out[4096];

	CHECK_EQ(load(front_door, true, out, sizeof(out), &cfg), 0);
	CHECK_STR(out, "");
	CHECK_EQ(cfg->nlistens, 3);
	CHECK_STR(cfg->listens[1].spec, "127.0.0.1:8081");
	CHECK(!cfg->listens[0].proxy_protocol);
	CHECK(cfg->listens[1].proxy_protocol && cfg->listens[2].tls &&
	    cfg->listens[2].proxy_protocol);
	CHECK_EQ(cfg->ntrusted_proxies, 4);
	CHECK_EQ(cfg->trusted_proxies[1].prefix, 8);
	CHECK_EQ(cfg->trusted_proxies[2].family, AF_INET6);
	CHECK_EQ(cfg->max_connections_per_ip, 20);
	CHECK(cfg->allow_root);
	CHECK_EQ(cfg->access_log_format, ACCESS_LOG_JSON);
	CHECK_STR(cfg->metrics_path, "/metrics");
	CHECK_EQ(cfg->metrics_addr.ss_family, AF_INET);
	CHECK_EQ(cfg->tls_min_version, CONFIG_TLS_1_3);
	CHECK_EQ(cfg->ntls_certs, 2);
	CHECK_STR(cfg->tls_certs[0].name, "example.com");
	CHECK_STR(cfg->tls_certs[1].name, "*.example.net");
	CHECK_STR(cfg->tls_certs[1].key, "/dev/null");
	CHECK_EQ(cfg->tls_certs[1].line, 18);
	if (cfg->nroutes == 2)
		test_front_door_route(cfg);
	config_free(cfg);
	CHECK_EQ(load("[route /e]\necho = yes\n", true, out, sizeof(out),
	    &cfg), 0);
	CHECK_EQ(cfg->tls_min_version, CONFIG_TLS_1_2);
	CHECK_EQ(cfg->access_log_format, ACCESS_LOG_TEXT);
	CHECK(!cfg->allow_root && cfg->metrics_path == NULL);
	CHECK_EQ(cfg->max_connections_per_ip, 0);
	config_free(cfg);
}

static void
test_front_door_errors(void)
{
	check_error("[server]\ntrusted_proxies = 10.0.0.1/8\n", false,
	    "F:2: [server]: trusted_proxies: \"10.0.0.1/8\": address has "
	    "bits set beyond the prefix length\n");
	check_error("[server]\ntrusted_proxies = 1.2.3.4, localhost\n", false,
	    "F:2: [server]: trusted_proxies: \"localhost\": not an IPv4 or "
	    "IPv6 address or network\n");
	check_error("[server]\ntrusted_proxies = ::1/129\n", false,
	    "F:2: [server]: trusted_proxies: \"::1/129\": invalid prefix "
	    "length\n");
	check_error("[server]\nlisten = :80 proxy\n", false,
	    "F:2: [server]: listen: invalid address \":80 proxy\" (want "
	    "ADDRESS or ADDRESS proxy_protocol)\n");
	check_error("[server]\naccess_log_format = xml\n", false,
	    "F:2: [server]: access_log_format: invalid access log format "
	    "\"xml\" (text or json)\n");
	check_error("[server]\nmetrics_path = metrics\n", false,
	    "F:2: [server]: metrics_path: \"metrics\": must start with "
	    "'/'\n");
	check_error("[server]\nmetrics_listen = :9100\n[route /e]\n"
	    "echo = yes\n", true,
	    "F:2: [server]: metrics_listen needs metrics_path\n");
	check_error("[tls]\nmin_version = 1.1\n", false,
	    "F:2: [tls]: min_version: invalid TLS version \"1.1\" (1.2 or "
	    "1.3)\n");
	check_error("[tls a.example]\ncert = /dev/null\n", false,
	    "F:1: [tls a.example]: needs cert and key\n");
	check_error("[tls a..b]\n", false, "F:1: [tls a..b]: not a server "
	    "name (want [tls example.com] or [tls *.example.com])\n");
	check_error("[tls a]\ncert=/dev/null\nkey=/dev/null\n[tls A]\n", false,
	    "F:4: duplicate section [tls a] (first on line 1)\n");
	check_error("[tls a]\nlisten = :1\ncert = /dev/null\nkey = /dev/null\n",
	    false, "F:2: [tls a]: unknown key \"listen\"\n");
	check_error("[tls]\nlisten = 127.0.0.1:8443\ncert = /dev/null\n"
	    "key = /dev/null\n[tls x.example]\ncert = /nonexistent\n"
	    "key = /dev/null\n[route /e]\necho = yes\n", true,
	    "F:6: [tls x.example]: cert \"/nonexistent\": No such file or "
	    "directory\n");
}

static void
test_route_access_errors(void)
{
	check_error("[route /a]\nconnect = :1\ntargets = /dev/null\n", false,
	    "F:1: [route \"/a\"]: more than one backend (connect, "
	    "targets)\n");
	check_error("[route /a]\ntargets = /nonexistent\n", true,
	    "F:2: [route \"/a\"]: targets \"/nonexistent\": No such file "
	    "or directory\n");
	check_error("[route /a]\necho = yes\nauth = basic\n", true,
	    "F:3: [route \"/a\"]: auth = basic needs auth_file\n");
	check_error("[route /a]\necho = yes\nauth_file = /dev/null\n", true,
	    "F:3: [route \"/a\"]: auth_file needs auth = basic\n");
	check_error("[route /a]\necho = yes\nauth = basic\n"
	    "auth_file = /nonexistent\n", true,
	    "F:4: [route \"/a\"]: auth_file \"/nonexistent\": No such file "
	    "or directory\n");
	check_error("[route /a]\necho = yes\nauth = digest\n", false,
	    "F:3: [route \"/a\"]: auth: invalid auth \"digest\" (none or "
	    "basic)\n");
	check_error("[route /a]\necho = yes\nauth_header = X-User\n", true,
	    "F:3: [route \"/a\"]: auth_header needs trusted_proxies in "
	    "[server]\n");
	check_error("[route /a]\necho = yes\nauth_header = X User\n", false,
	    "F:3: [route \"/a\"]: auth_header: \"X User\": not a header "
	    "name\n");
	check_error("[route /a]\necho = yes\nauth_realm = a\"b\n", false,
	    "F:3: [route \"/a\"]: auth_realm: \"a\"b\": no quotes, "
	    "backslashes or control characters\n");
	check_error("[route /a]\necho = yes\nsend_proxy = v2\n", true,
	    "F:3: [route \"/a\"]: send_proxy needs connect or targets\n");
	check_error("[route /a]\nconnect = :1\nsend_proxy = v3\n", false,
	    "F:3: [route \"/a\"]: send_proxy: invalid send_proxy \"v3\" "
	    "(no, v1 or v2)\n");
}

static void
cidr_sa(struct sockaddr_storage *ss, const char *addr)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr,
	    &((struct sockaddr_in *)ss)->sin_addr) == 1)
		ss->ss_family = AF_INET;
	else if (inet_pton(AF_INET6, addr,
	    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
		ss->ss_family = AF_INET6;
}

static void
test_cidr(void)
{
	struct config		*cfg = config_new();
	struct sockaddr_storage	 ss;
	char			 err[256];
	const char		*why;
	struct cidr		 c;

	CHECK_EQ(config_set(cfg, NULL, "trusted_proxies", "10.1.0.0/16, "
	    "192.0.2.7, 2001:db8::/33, 0.0.0.0/0", 0, err, sizeof(err)), 0);
	cidr_sa(&ss, "10.1.255.3");
	CHECK(config_cidr_match(cfg, (struct sockaddr *)&ss));
	cidr_sa(&ss, "::ffff:192.0.2.7");
	CHECK(config_cidr_match(cfg, (struct sockaddr *)&ss));
	cidr_sa(&ss, "2001:db8:7fff::1");
	CHECK(config_cidr_match(cfg, (struct sockaddr *)&ss));
	cidr_sa(&ss, "2001:db8:8000::1");
	CHECK(!config_cidr_match(cfg, (struct sockaddr *)&ss));
	CHECK_EQ(config_set(cfg, NULL, "trusted_proxies", "10.1.0.0/16",
	    0, err, sizeof(err)), 0);
	cidr_sa(&ss, "10.2.0.1");
	CHECK(!config_cidr_match(cfg, (struct sockaddr *)&ss));
	ss.ss_family = AF_UNIX;
	CHECK(!config_cidr_match(cfg, (struct sockaddr *)&ss));
	CHECK(!config_cidr_match(cfg, NULL));
	CHECK_EQ(config_parse_cidr("0.0.0.0/0", &c, &why), 0);
	CHECK_EQ(config_parse_cidr("1.0.0.0/0", &c, &why), -1);
	CHECK_EQ(config_parse_cidr("1.2.3.4/", &c, &why), -1);
	CHECK_EQ(config_parse_cidr("[::1]", &c, &why), -1);
	CHECK_EQ(config_parse_cidr("::/0", &c, &why), 0);
	CHECK_EQ(c.prefix, 0);
	config_free(cfg);
}

int
main(void)
{
	test_parsers();
	test_defaults();
	test_all_keys();
	test_errors();
	test_not_executable();
	test_line_numbers();
	test_match();
	test_split();
	test_addr();
	test_print();
	test_set();
	test_front_door();
	test_front_door_errors();
	test_route_access_errors();
	test_cidr();
	test_error_order();
	test_shipped();
	TEST_REPORT();
}

/*
 * Static files: statuses, headers and validators for a temporary root
 * holding files, a dotfile, directories with and without index.html,
 * symlinks inside and out of the root, and traversal attempts.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "static.h"
#include "test.h"

/* Sun, 06 Nov 1994 08:49:37 GMT: the RFC 9110 example date. */
#define T_MTIME		784111777

static char	 t_base[64], t_root[128];
static char	*t_extra[] = { "X-Test: 1" };

static void
t_write(const char *rel, const char *data)
{
	char	 p[PATH_MAX];
	FILE	*f;

	snprintf(p, sizeof(p), "%s/%s", t_base, rel);
	if ((f = fopen(p, "w")) == NULL || fputs(data, f) < 0 ||
	    fclose(f) != 0) {
		perror(p);
		exit(2);
	}
}

static void
t_mkdir(const char *rel)
{
	char	 p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", t_base, rel);
	if (mkdir(p, 0755) == -1) {
		perror(p);
		exit(2);
	}
}

static void
t_symlink(const char *rel, const char *target)
{
	char	 p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", t_base, rel);
	if (symlink(target, p) == -1) {
		perror(p);
		exit(2);
	}
}

/* root/ with the cases, outside/ next to it with what must stay hidden. */
static void
t_setup(void)
{
	struct timespec	 ts[2] = { { T_MTIME, 0 }, { T_MTIME, 0 } };
	char		 p[PATH_MAX];

	strcpy(t_base, "/tmp/wsbridge-static-XXXXXX");
	if (mkdtemp(t_base) == NULL)
		exit(2);
	snprintf(t_root, sizeof(t_root), "%s/root", t_base);
	t_mkdir("root");
	t_mkdir("outside");
	t_write("outside/secret.txt", "secret\n");
	t_write("root/index.html", "<h1>home</h1>\n");
	t_write("root/a.txt", "hello\n");
	t_write("root/.hidden", "dot\n");
	t_mkdir("root/sub");
	t_write("root/sub/index.html", "<h1>sub</h1>\n");
	t_mkdir("root/sub/.git");
	t_write("root/sub/.git/config", "[core]\n");
	t_mkdir("root/empty");
	t_mkdir("root/a b?");
	t_write("root/a b?/index.html", "x\n");
	t_mkdir("root/x\r\nSet-Cookie: y");
	t_write("root/x\r\nSet-Cookie: y/index.html", "x\n");
	t_symlink("root/out", "../outside/secret.txt");
	t_symlink("root/outdir", "../outside");
	t_symlink("root/in", "a.txt");
	t_symlink("root/indot", ".hidden");
	t_symlink("root/sub2", "sub");
	snprintf(p, sizeof(p), "%s/root/fifo", t_base);
	if (mkfifo(p, 0644) == -1)
		exit(2);
	snprintf(p, sizeof(p), "%s/root/a.txt", t_base);
	if (utimensat(AT_FDCWD, p, ts, 0) == -1)
		exit(2);
}

static void
t_teardown(void)
{
	char	 cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_base);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t_base);
}

/* Full request: GET with keep-alive and one extra header. */
static int
t_get(const char *path, bool head, const char *inm, const char *ims,
    struct static_result *res)
{
	int	 rc;

	rc = static_respond(t_root, path, head, inm, ims, true, t_extra, 1,
	    res);
	CHECK_EQ(rc, 0);
	return res->status;
}

/* Status only; the result is freed. */
static int
t_status(const char *path)
{
	struct static_result	 res;
	int			 status;

	status = t_get(path, false, NULL, NULL, &res);
	if (status != 200)
		CHECK_EQ(res.fd, -1);
	static_result_free(&res);
	return status;
}

/* Is "line" a whole header line of the head? */
static bool
t_has(const struct static_result *res, const char *line)
{
	char	 want[512];

	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	return memmem(res->head, res->head_len, want, strlen(want)) != NULL;
}

/* Value of a header, copied into buf ("" if absent). */
static const char *
t_header(const struct static_result *res, const char *name, char *buf,
    size_t sz)
{
	char		 want[128];
	const char	*p, *end;

	snprintf(want, sizeof(want), "\r\n%s: ", name);
	buf[0] = '\0';
	if ((p = memmem(res->head, res->head_len, want, strlen(want))) == NULL)
		return buf;
	p += strlen(want);
	if ((end = strstr(p, "\r\n")) != NULL && (size_t)(end - p) < sz) {
		memcpy(buf, p, end - p);
		buf[end - p] = '\0';
	}
	return buf;
}

static bool
t_ends_head(const struct static_result *res)
{
	return res->head_len >= 4 &&
	    memcmp(res->head + res->head_len - 4, "\r\n\r\n", 4) == 0;
}

static void
test_get_file(void)
{
	struct static_result	 res;
	char			 buf[64];
	ssize_t			 n;

	CHECK_EQ(t_get("/a.txt", false, NULL, NULL, &res), 200);
	CHECK(memcmp(res.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK(t_has(&res, "Content-Type: text/plain; charset=utf-8"));
	CHECK(t_has(&res, "Content-Length: 6"));
	CHECK(t_has(&res, "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT"));
	CHECK(t_has(&res, "Cache-Control: no-cache"));
	CHECK(t_has(&res, "Connection: keep-alive"));
	CHECK(t_has(&res, "X-Test: 1"));
	CHECK(t_header(&res, "ETag", buf, sizeof(buf))[0] == '"');
	CHECK(t_header(&res, "Date", buf, sizeof(buf))[0] != '\0');
	CHECK(t_ends_head(&res));
	CHECK_EQ(res.size, 6);
	CHECK(res.fd >= 0);
	CHECK(fcntl(res.fd, F_GETFD) & FD_CLOEXEC);
	n = read(res.fd, buf, sizeof(buf));
	CHECK_EQ(n, 6);
	CHECK(n == 6 && memcmp(buf, "hello\n", 6) == 0);
	static_result_free(&res);
	CHECK_EQ(res.fd, -1);
	CHECK(res.head == NULL);
	static_result_free(&res);
}

static void
test_head_and_close(void)
{
	struct static_result	 res;
	int			 rc;

	CHECK_EQ(t_get("/a.txt", true, NULL, NULL, &res), 200);
	CHECK_EQ(res.fd, -1);
	CHECK(t_has(&res, "Content-Length: 6"));
	CHECK(t_ends_head(&res));
	static_result_free(&res);
	rc = static_respond(t_root, "/a.txt", false, NULL, NULL, false, NULL,
	    0, &res);
	CHECK_EQ(rc, 0);
	CHECK(t_has(&res, "Connection: close"));
	CHECK(!t_has(&res, "X-Test: 1"));
	static_result_free(&res);
}

static void
test_index(void)
{
	struct static_result	 res;

	CHECK_EQ(t_get("/", false, NULL, NULL, &res), 200);
	CHECK(t_has(&res, "Content-Type: text/html; charset=utf-8"));
	CHECK(t_has(&res, "Content-Length: 14"));
	static_result_free(&res);
	CHECK_EQ(t_status("/sub/"), 200);
	CHECK_EQ(t_status("/sub2/"), 200);
	CHECK_EQ(t_status("/sub/index.html"), 200);
	/* No listings, and no redirect that would reveal the directory. */
	CHECK_EQ(t_status("/empty/"), 404);
	CHECK_EQ(t_status("/empty"), 404);
}

static void
test_redirect(void)
{
	struct static_result	 res;
	const char		*body;

	CHECK_EQ(t_get("/sub", false, NULL, NULL, &res), 301);
	CHECK(t_has(&res, "Location: /sub/"));
	CHECK(t_has(&res, "Content-Length: 22"));
	body = memmem(res.head, res.head_len, "\r\n\r\n", 4);
	CHECK(body != NULL && strcmp(body + 4, "301 Moved Permanently\n") == 0);
	static_result_free(&res);
	/* Never a scheme-relative Location. */
	CHECK_EQ(t_get("//sub", false, NULL, NULL, &res), 301);
	CHECK(t_has(&res, "Location: /sub/"));
	static_result_free(&res);
	CHECK_EQ(t_get("/a b?", false, NULL, NULL, &res), 301);
	CHECK(t_has(&res, "Location: /a%20b%3F/"));
	static_result_free(&res);
	/* A decoded CR LF must not split the header. */
	CHECK_EQ(t_get("/x\r\nSet-Cookie: y", false, NULL, NULL, &res), 301);
	CHECK(t_has(&res, "Location: /x%0D%0ASet-Cookie:%20y/"));
	CHECK(!t_has(&res, "Set-Cookie: y/"));
	static_result_free(&res);
}

static void
test_refused(void)
{
	CHECK_EQ(t_status("/../etc/passwd"), 404);
	CHECK_EQ(t_status("/a/../../x"), 404);
	CHECK_EQ(t_status("/sub/../a.txt"), 404);
	CHECK_EQ(t_status("/./a.txt"), 404);
	CHECK_EQ(t_status("/.."), 404);
	CHECK_EQ(t_status("/.hidden"), 404);
	CHECK_EQ(t_status("/sub/.git/config"), 404);
	CHECK_EQ(t_status("/sub/.git/"), 404);
	CHECK_EQ(t_status("/out"), 404);
	CHECK_EQ(t_status("/outdir/"), 404);
	CHECK_EQ(t_status("/outdir/secret.txt"), 404);
	CHECK_EQ(t_status("/indot"), 404);
	CHECK_EQ(t_status("/fifo"), 404);
	CHECK_EQ(t_status("/nope"), 404);
	CHECK_EQ(t_status("/a.txt/"), 404);
	CHECK_EQ(t_status("a.txt"), 404);
	CHECK_EQ(t_status(""), 404);
	/* A symlink that stays inside the root is fine. */
	CHECK_EQ(t_status("/in"), 200);
}

static void
test_errors(void)
{
	struct static_result	 res;
	const char		*body;
	int			 rc;

	CHECK_EQ(t_get("/nope", false, NULL, NULL, &res), 404);
	CHECK(memcmp(res.head, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
	CHECK(t_has(&res, "Content-Length: 14"));
	CHECK(t_has(&res, "Connection: keep-alive"));
	body = memmem(res.head, res.head_len, "\r\n\r\n", 4);
	CHECK(body != NULL && strcmp(body + 4, "404 Not Found\n") == 0);
	static_result_free(&res);
	CHECK_EQ(t_get("/nope", true, NULL, NULL, &res), 404);
	CHECK(t_has(&res, "Content-Length: 14"));
	CHECK(t_ends_head(&res));
	static_result_free(&res);
	rc = static_respond("/nonexistent/wsbridge", "/", false, NULL, NULL,
	    true, NULL, 0, &res);
	CHECK_EQ(rc, 0);
	CHECK_EQ(res.status, 404);
	static_result_free(&res);
}

/* Unreadable files are 403; root reads anything, so only as a user. */
static void
test_forbidden(void)
{
	char	 p[PATH_MAX];

	if (geteuid() == 0)
		return;
	t_write("root/noread.txt", "x\n");
	snprintf(p, sizeof(p), "%s/root/noread.txt", t_base);
	chmod(p, 0);
	CHECK_EQ(t_status("/noread.txt"), 403);
}

/* Status of a GET /a.txt with these validators; fd must be -1 on 304. */
static int
t_cond(const char *inm, const char *ims)
{
	struct static_result	 res;
	int			 status;

	status = t_get("/a.txt", false, inm, ims, &res);
	if (status == 304) {
		CHECK_EQ(res.fd, -1);
		CHECK(!t_has(&res, "Content-Length: 6"));
		CHECK(t_has(&res, "Cache-Control: no-cache"));
		CHECK(t_ends_head(&res));
	}
	static_result_free(&res);
	return status;
}

static void
test_conditional(void)
{
	struct static_result	 res;
	char			 etag[64], list[160], weak[80];

	t_get("/a.txt", true, NULL, NULL, &res);
	t_header(&res, "ETag", etag, sizeof(etag));
	static_result_free(&res);
	CHECK_EQ(t_cond(etag, NULL), 304);
	snprintf(weak, sizeof(weak), "W/%s", etag);
	CHECK_EQ(t_cond(weak, NULL), 304);
	snprintf(list, sizeof(list), "\"nope\", W/\"x\",%s", etag);
	CHECK_EQ(t_cond(list, NULL), 304);
	CHECK_EQ(t_cond("*", NULL), 304);
	CHECK_EQ(t_cond("\"nope\"", NULL), 200);
	CHECK_EQ(t_cond("", NULL), 200);
	CHECK_EQ(t_cond("\"unterminated", NULL), 200);
	/* If-None-Match present: If-Modified-Since is ignored. */
	CHECK_EQ(t_cond("\"nope\"", "Sun, 06 Nov 2094 08:49:37 GMT"), 200);
	CHECK_EQ(t_cond(NULL, "Sun, 06 Nov 1994 08:49:37 GMT"), 304);
	CHECK_EQ(t_cond(NULL, "Sun, 06 Nov 1994 08:49:36 GMT"), 200);
	CHECK_EQ(t_cond(NULL, "Mon, 07 Nov 1994 00:00:00 GMT"), 304);
	CHECK_EQ(t_cond(NULL, "Sunday, 06-Nov-94 08:49:37 GMT"), 304);
	CHECK_EQ(t_cond(NULL, "Sun Nov  6 08:49:37 1994"), 304);
	CHECK_EQ(t_cond(NULL, "Sun Nov  6 08:49:36 1994"), 200);
	CHECK_EQ(t_cond(NULL, "yesterday"), 200);
	CHECK_EQ(t_cond(NULL, "Sun, 06 Foo 2094 08:49:37 GMT"), 200);
	CHECK_EQ(t_cond(NULL, "Sun, 06 Nov 2094 08:49:37 GMT junk"), 200);
	/* A date in the future is ignored (RFC 9110 13.1.3). */
	CHECK_EQ(t_cond(NULL, "Fri, 01 Jan 2100 00:00:00 GMT"), 200);
	/* HEAD revalidates the same way. */
	CHECK_EQ(t_get("/a.txt", true, etag, NULL, &res), 304);
	CHECK_EQ(res.fd, -1);
	static_result_free(&res);
}

static void
test_mime(void)
{
	CHECK_STR(static_mime_type("/x/index.html"),
	    "text/html; charset=utf-8");
	CHECK_STR(static_mime_type("a.HTM"), "text/html; charset=utf-8");
	CHECK_STR(static_mime_type("s.css"), "text/css; charset=utf-8");
	CHECK_STR(static_mime_type("app.js"),
	    "text/javascript; charset=utf-8");
	CHECK_STR(static_mime_type("m.mjs"),
	    "text/javascript; charset=utf-8");
	CHECK_STR(static_mime_type("d.json"), "application/json");
	CHECK_STR(static_mime_type("app.js.map"), "application/json");
	CHECK_STR(static_mime_type("i.svg"), "image/svg+xml");
	CHECK_STR(static_mime_type("I.PNG"), "image/png");
	CHECK_STR(static_mime_type("p.jpg"), "image/jpeg");
	CHECK_STR(static_mime_type("p.jpeg"), "image/jpeg");
	CHECK_STR(static_mime_type("g.gif"), "image/gif");
	CHECK_STR(static_mime_type("favicon.ico"), "image/x-icon");
	CHECK_STR(static_mime_type("w.webp"), "image/webp");
	CHECK_STR(static_mime_type("m.wasm"), "application/wasm");
	CHECK_STR(static_mime_type("r.txt"), "text/plain; charset=utf-8");
	CHECK_STR(static_mime_type("f.woff"), "font/woff");
	CHECK_STR(static_mime_type("f.woff2"), "font/woff2");
	CHECK_STR(static_mime_type("f.ttf"), "font/ttf");
	CHECK_STR(static_mime_type("f.xml"), "application/xml");
	CHECK_STR(static_mime_type("f.pdf"), "application/pdf");
	CHECK_STR(static_mime_type("a.tar.gz"), "application/octet-stream");
	CHECK_STR(static_mime_type("/x.d/README"),
	    "application/octet-stream");
	CHECK_STR(static_mime_type("/.profile"), "application/octet-stream");
	CHECK_STR(static_mime_type("noext"), "application/octet-stream");
	CHECK_STR(static_mime_type("dot."), "application/octet-stream");
}

static void
test_devconsole(void)
{
	const char	*html = static_devconsole_html();

	CHECK(strncmp(html, "<!DOCTYPE html>", 15) == 0);
	CHECK(strstr(html, "new WebSocket(") != NULL);
	CHECK(strstr(html, "innerHTML") == NULL);
	CHECK(strstr(html, "http://") == NULL);
	CHECK(strstr(html, "https://") == NULL);
}

int
main(void)
{
	t_setup();
	test_get_file();
	test_head_and_close();
	test_index();
	test_redirect();
	test_refused();
	test_errors();
	test_forbidden();
	test_conditional();
	test_mime();
	test_devconsole();
	t_teardown();
	TEST_REPORT();
}

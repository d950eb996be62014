/*
 * websocketd's --cgidir: a plain GET/HEAD naming an executable under
 * cgi_dir runs it as CGI/1.1 (RFC 3875). The program's header block is
 * gathered (bounded), turned into an HTTP head (Status:, Location: 302),
 * then its stdout streams to the client under the client buffer's high
 * mark; the connection closes after the body. Nothing here blocks: the
 * stdout pipe is non-blocking and the child is reaped by the process
 * backend (backend_cgi_ops).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cgi.h"
#include "http_response.h"
#include "log.h"
#include "conn_int.h"

#define CGI_DEPTH_MAX	16	/* subdirectories walked under cgi_dir */

struct cgi {
	ev_timer	 timer;		/* cgi_timeout: 504, or cut short */
	char		 head[CGI_HEAD_MAX];
	size_t		 headlen;
	bool		 head_done;	/* the HTTP head is sent */
	bool		 method_head;	/* HEAD: the body is read, dropped */
	struct strlist	 extra;		/* header lines of every response */
	struct backend	 be;		/* the program */
	struct endpoint	 out;		/* its stdout */
	bool		 exited;
	int		 exit_status;	/* wait status, -1 unknown */
	/* The request body, decoded, on its way to the program's stdin. */
	char		*body;		/* CGI_BODY_CHUNK bytes */
	size_t		 body_off, body_len;
	long long	 body_total;
};

static void	cgi_read_cb(struct ev_loop *, ev_io *, int);

/*
 * The program for path: 1 and c->program, script_name, path_info set
 * (an executable regular file really inside dir, reached without dot
 * segments or a symlink out); 0 not there; -1 there but not executable.
 */
static int
cgi_resolve(struct conn *c, const char *dir, const char *path)
{
	char		 cand[4096], root[PATH_MAX], real[PATH_MAX];
	const char	*p = path, *slash;
	size_t		 len, rlen, used;
	struct stat	 st;
	int		 depth;

	if (realpath(dir, root) == NULL)
		return 0;
	rlen = strlen(root);
	used = (size_t)snprintf(cand, sizeof(cand), "%s", root);
	for (depth = 0; depth < CGI_DEPTH_MAX; depth++) {
		p += *p == '/';
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || p[0] == '.' || used + 1 + len >= sizeof(cand))
			return 0;
		used += (size_t)snprintf(cand + used, sizeof(cand) - used,
		    "/%.*s", (int)len, p);
		p += len;
		if (realpath(cand, real) == NULL ||
		    strncmp(real, root, rlen) != 0 || real[rlen] != '/' ||
		    stat(real, &st) == -1)
			return 0;
		if (S_ISDIR(st.st_mode))
			continue;
		if (!S_ISREG(st.st_mode))
			return 0;
		if (access(real, X_OK) == -1)
			return -1;
		if ((c->program = strdup(real)) == NULL ||
		    (c->script_name = strndup(path, (size_t)(p - path))) ==
		    NULL || (c->path_info = strdup(p)) == NULL)
			return -2;
		return 1;
	}
	return 0;
}

/* Fires when the program overran cgi_timeout. */
static void
cgi_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;

	(void)loop, (void)revents;
	log_warnx("conn %llu %s %s: CGI program timed out",
	    (unsigned long long)c->id, c->peer, c->path);
	backend_terminate(&c->cgi->be);
	if (c->cgi->head_done)
		conn_close(c, "CGI timeout");
	else {
		endpoint_close(&c->cgi->out);
		conn_http_respond(c, 504, NULL);
	}
}

/* The program failed before its head was out: 502, logged with why. */
static void
cgi_fail(struct conn *c, const char *why)
{
	log_warnx("conn %llu %s %s: CGI %s: %s", (unsigned long long)c->id,
	    c->peer, c->path, c->program, why);
	ev_timer_stop(server.loop, &c->cgi->timer);
	endpoint_close(&c->cgi->out);
	conn_http_respond(c, 502, NULL);
}

/* A header name is an RFC 9110 token. */
static bool
cgi_token(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("!#$%&'*+-.^_`|~", s[i]) == NULL)
			return false;
	return n > 0;
}

/* Headers the connection decides itself (RFC 9110 7.6.1). */
static bool
cgi_hop_header(const char *name, size_t n)
{
	static const char	*hop[] = { "Connection", "Keep-Alive",
	    "Transfer-Encoding", "Upgrade", "Status", NULL };
	int			 i;

	for (i = 0; hop[i] != NULL; i++)
		if (strlen(hop[i]) == n && strncasecmp(name, hop[i], n) == 0)
			return true;
	return false;
}

/* What the program's header block says, gathered before the head. */
struct cgi_head {
	int	 status;		/* from Status:, or 0 */
	char	 reason[128];
	bool	 location, type, date;
};

/*
 * One header line of the program (NUL-terminated, no CR LF), checked:
 * Status, Location, Content-Type and Date noted in h. -1: malformed.
 */
static int
cgi_header_line(char *line, struct cgi_head *h)
{
	char	*colon = strchr(line, ':'), *v, *end;
	size_t	 n;
	long	 code;

	if (colon == NULL || !cgi_token(line, (size_t)(colon - line)))
		return -1;
	n = (size_t)(colon - line);
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (strchr(v, '\r') != NULL)
		return -1;
	if (n == 6 && strncasecmp(line, "Status", 6) == 0) {
		code = strtol(v, &end, 10);
		if (end != v + 3 || code < 200 || code > 599 ||
		    (*end != '\0' && *end != ' '))
			return -1;
		h->status = (int)code;
		snprintf(h->reason, sizeof(h->reason), "%s",
		    *end == ' ' ? end + 1 : "");
		return 0;
	}
	h->location |= n == 8 && strncasecmp(line, "Location", 8) == 0;
	h->type |= n == 12 && strncasecmp(line, "Content-Type", 12) == 0;
	h->date |= n == 4 && strncasecmp(line, "Date", 4) == 0;
	return 0;
}

/* A checked line into the head, unless the connection decides it. */
static void
cgi_header_put(struct http_response *r, char *line)
{
	char	*colon = strchr(line, ':'), *v;

	if (cgi_hop_header(line, (size_t)(colon - line)))
		return;
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	*colon = '\0';
	http_response_header(r, line, "%s", v);
	*colon = ':';
}

/*
 * Check the block's lines (hlen bytes, blank line excluded), cutting
 * them into strings; where the checked part ends, why it failed if so.
 */
static char *
cgi_header_scan(char *block, size_t hlen, struct cgi_head *h,
    const char **why)
{
	char	*line, *nl;

	block[hlen] = '\0';
	*why = NULL;
	for (line = block; *line != '\0' && *why == NULL; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line) - 1;
		else {
			*nl = '\0';
			if (nl > line && nl[-1] == '\r')
				nl[-1] = '\0';
		}
		if (cgi_header_line(line, h) == -1)
			*why = "malformed header line";
	}
	if (*why == NULL && h->status == 0)
		h->status = h->location ? 302 : 200;
	if (*why == NULL && !h->type && !h->location && h->status == 200)
		*why = "no Content-Type, Location or Status";
	return line;
}

/*
 * The program's header block (hlen bytes, blank line excluded) as an
 * HTTP head in *out; NULL and why when it is not a CGI response or
 * memory ran out. Date is ours unless the program sent one.
 */
static char *
cgi_build_head(struct conn *c, char *block, size_t hlen, size_t *outlen,
    const char **why)
{
	struct cgi_head		 h = { 0 };
	struct http_response	 r;
	char			*end, *p, *out;

	end = cgi_header_scan(block, hlen, &h, why);
	if (*why != NULL)
		return NULL;
	*why = "out of memory";
	if (http_response_begin(&r, h.status, h.reason[0] != '\0' ?
	    h.reason : NULL, h.date ? HTTP_RESPONSE_NO_DATE : time(NULL)) == -1)
		return NULL;
	/* The scan left the lines as strings, empty where CR LF was. */
	for (p = block; p < end; p += strlen(p) + 1)
		if (*p != '\0')
			cgi_header_put(&r, p);
	http_response_lines(&r, c->cgi->extra.v, c->cgi->extra.n);
	http_response_header(&r, "Connection", "close");
	if ((out = http_response_end(&r, NULL, 0, outlen)) == NULL)
		return NULL;
	*why = NULL;
	c->status = h.status;
	return out;
}

/* The end of the header block in head: its length, or 0 (and *body). */
static size_t
cgi_head_end(const char *head, size_t len, size_t *body)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (head[i] != '\n')
			continue;
		if (i == 0 || (i == 1 && head[0] == '\r')) {
			*body = i + 1;
			return SIZE_MAX;	/* no headers at all */
		}
		if (i + 1 < len && head[i + 1] == '\n') {
			*body = i + 2;
			return i + 1;
		}
		if (i + 2 < len && head[i + 1] == '\r' && head[i + 2] == '\n') {
			*body = i + 3;
			return i + 1;
		}
	}
	return 0;
}

/* The header block is complete: send the head and what body came along. */
static void
cgi_send_head(struct conn *c, size_t hlen, size_t body)
{
	struct cgi	*g = c->cgi;
	const char	*why;
	char		*out;
	size_t		 outlen;

	if (hlen == SIZE_MAX) {
		cgi_fail(c, "no headers");
		return;
	}
	if ((out = cgi_build_head(c, g->head, hlen, &outlen, &why)) == NULL) {
		cgi_fail(c, why);
		return;
	}
	g->head_done = true;
	conn_send_raw(c, out, outlen);
	free(out);
	if (!g->method_head && g->headlen > body) {
		conn_send_raw(c, g->head + body, g->headlen - body);
		c->stats.bytes_out += g->headlen - body;
	}
}

/* Stdout ended (or failed): 502 before the head, else finish the body. */
static void
cgi_stdout_done(struct conn *c, int error)
{
	if (!c->cgi->head_done) {
		cgi_fail(c, error != 0 ? strerror(error) :
		    "output ended before a blank line");
		return;
	}
	ev_timer_stop(server.loop, &c->cgi->timer);
	endpoint_close(&c->cgi->out);
	c->linger = true;
	conn_set_state(c, CONN_CLOSING);
	conn_deadline(c, c->cref->cfg->close_timeout_ms);
	if (buf_len(&c->client.out) == 0)
		conn_maybe_finish(c);
}

/* Read once into the header block. 1 read, 0 nothing now, -1 done. */
static int
cgi_read_head(struct conn *c)
{
	struct cgi	*g = c->cgi;
	size_t		 hlen, body = 0;
	ssize_t		 n;

	/* One byte stays free for the NUL cgi_build_head adds. */
	if (g->headlen + 1 >= sizeof(g->head)) {
		cgi_fail(c, "header block too long");
		return -1;
	}
	n = read(c->cgi->out.rfd, g->head + g->headlen,
	    sizeof(g->head) - 1 - g->headlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		cgi_stdout_done(c, n == -1 ? errno : 0);
		return -1;
	}
	g->headlen += (size_t)n;
	if ((hlen = cgi_head_end(g->head, g->headlen, &body)) != 0) {
		cgi_send_head(c, hlen, body);
		if (g->head_done)
			cgi_update_reading(c);
	}
	return 1;
}

/* Body bytes: into the client buffer (dropped for HEAD). */
static void
cgi_read_body(struct conn *c)
{
	size_t	 room = buf_room(&c->client.out);
	uint8_t	*p;
	ssize_t	 n;

	if (room > CONN_READ_CHUNK)
		room = CONN_READ_CHUNK;
	if (c->cgi->method_head)
		room = CONN_READ_CHUNK;
	if (room == 0) {
		cgi_update_reading(c);
		return;
	}
	p = c->cgi->method_head ? relay_scratch :
	    buf_reserve(&c->client.out, room);
	if (p == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	n = read(c->cgi->out.rfd, p, room);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		cgi_stdout_done(c, n == -1 ? errno : 0);
		return;
	}
	if (!c->cgi->method_head) {
		buf_commit(&c->client.out, (size_t)n);
		c->stats.bytes_out += (uint64_t)n;
		endpoint_flush_later(&c->client);
	}
	cgi_update_reading(c);
}

/* Fires when the program's stdout has bytes or EOF. */
static void
cgi_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn	*c = w->data;

	(void)loop, (void)revents;
	if (!c->cgi->head_done)
		cgi_read_head(c);
	else
		cgi_read_body(c);
}

void
cgi_update_reading(struct conn *c)
{
	watcher_set(&c->cgi->out.rd, c->state == CONN_HTTP &&
	    c->cgi->out.rfd != -1 && (c->cgi->method_head ||
	    !buf_full(&c->client.out)));
}

void
cgi_exited(struct conn *c, int status)
{
	char	 why[64];
	int	 i;

	c->cgi->exited = true;
	c->cgi->exit_status = status;
	if (c->state != CONN_HTTP || c->cgi->head_done || status == 0)
		return;
	/* What it wrote before it died may still hold a whole head. */
	for (i = 0; i < 64 && c->cgi->out.rfd != -1 && !c->cgi->head_done &&
	    c->state == CONN_HTTP; i++)
		if (cgi_read_head(c) != 1)
			break;
	if (c->state != CONN_HTTP || c->cgi->head_done)
		return;
	if (WIFEXITED(status))
		snprintf(why, sizeof(why), "exit %d before its headers",
		    WEXITSTATUS(status));
	else
		snprintf(why, sizeof(why), "signal %d before its headers",
		    WTERMSIG(status));
	cgi_fail(c, why);
}

static void
cgi_be_exited(void *arg, int status)
{
	cgi_exited(arg, status);
}

/* The program's reaping comes back here; CGI needs nothing else. */
static const struct backend_owner cgi_owner = {
	.exited = cgi_be_exited,
};

bool
cgi_exit_pending(const struct conn *c)
{
	return c->cgi != NULL && backend_has_process(&c->cgi->be) &&
	    !c->cgi->exited;
}

int
cgi_exit_status(const struct conn *c)
{
	return c->cgi != NULL ? c->cgi->exit_status : -1;
}

void
cgi_backend_name(const struct conn *c, char *buf, size_t len)
{
	backend_name(&c->cgi->be, buf, len);
}

void
cgi_log_at_exit(struct conn *c, const char *head, const char *tail,
    bool json)
{
	backend_log_at_exit(&c->cgi->be, head, tail, json);
}

/*
 * The body cannot go on: 400/413 before the program's head (logged by
 * conn_http_respond), else close.
 */
static void
cgi_body_error(struct conn *c, int status, const char *why)
{
	struct cgi	*g = c->cgi;

	backend_terminate(&g->be);
	if (g->head_done) {
		/* Its status line is out: cut the response short. */
		log_info("conn %llu %s %s: request body: %s: response cut "
		    "short", (unsigned long long)c->id, c->peer, c->path, why);
		conn_close(c, why);
		return;
	}
	ev_timer_stop(server.loop, &g->timer);
	endpoint_close(&g->out);
	conn_http_respond(c, status, why);
}

/* Its stdin takes no more: the rest of the body is not wanted. */
static void
cgi_body_end(struct conn *c)
{
	struct cgi	*g = c->cgi;

	watcher_set(&g->out.wr, false);
	if (g->out.wfd != -1)
		close(g->out.wfd);
	g->out.wfd = -1;
	free(g->body);
	g->body = NULL;
	g->body_off = g->body_len = 0;
	watcher_set(&c->client.rd, false);
}

void
cgi_body_pump(struct conn *c)
{
	struct cgi	*g = c->cgi;
	const char	*why;
	size_t		 outlen;
	ssize_t		 n;
	int		 status;

	while (c->state == CONN_HTTP && g->body != NULL) {
		if (g->body_off < g->body_len) {
			n = write(g->out.wfd, g->body + g->body_off,
			    g->body_len - g->body_off);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && errno == EAGAIN) {
				/* Full: hold the client until it drains. */
				watcher_set(&c->client.rd, false);
				watcher_set(&g->out.wr, true);
				return;
			}
			if (n == -1) {	/* EPIPE: it stopped reading */
				cgi_body_end(c);
				return;
			}
			g->body_off += (size_t)n;
			continue;
		}
		watcher_set(&g->out.wr, false);
		if (c->req->body_done) {
			cgi_body_end(c);	/* EOF on its stdin */
			return;
		}
		if (buf_len(&c->in) == 0) {
			watcher_set(&c->client.rd, true);
			return;
		}
		n = hs_body(c->req, (const char *)buf_head(&c->in),
		    buf_len(&c->in), g->body, CGI_BODY_CHUNK, &outlen, &status,
		    &why);
		if (n == -1) {
			cgi_body_error(c, 400, why != NULL ? why :
			    "malformed request body");
			return;
		}
		buf_consume(&c->in, (size_t)n);
		g->body_off = 0;
		g->body_len = outlen;
		g->body_total += (long long)outlen;
		if (g->body_total > c->cref->cfg->cgi_max_body) {
			cgi_body_error(c, 413, "request body too large");
			return;
		}
	}
}

/* Fires when the program's stdin has room again. */
static void
cgi_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)revents;
	cgi_body_pump(w->data);
}

/* Spawn the program (after the reverse lookup, if any). */
static void
cgi_start(struct conn *c)
{
	struct backend_params	 bp;
	struct proc_request	 q;
	struct cgi		*g = c->cgi;
	char			 err[256];

	backend_init(&g->be, &backend_cgi_ops, &cgi_owner, c);
	conn_backend_params(c, &bp, &q, 0, 0);
	if (backend_start(&g->be, &bp, err, sizeof(err)) == -1) {
		cgi_fail(c, err);
		return;
	}
	g->out.rfd = g->be.rfd;
	g->out.wfd = g->be.wfd;
	/* The request is in hand: no handshake deadline, no more reading. */
	ev_timer_stop(server.loop, &c->deadline);
	watcher_set(&c->client.rd, false);
	ev_timer_start(server.loop, &g->timer);
	endpoint_watch(&g->out, &g->out.rd, cgi_read_cb, g->out.rfd, EV_READ);
	if (c->req->has_body && (g->body = malloc(CGI_BODY_CHUNK)) != NULL) {
		endpoint_watch(&g->out, &g->out.wr, cgi_write_cb, g->out.wfd,
		    EV_WRITE);
		cgi_body_pump(c);
		if (c->state != CONN_HTTP || c->cgi == NULL)
			return;
	} else if (c->req->has_body) {
		cgi_body_error(c, 503, "out of memory");
		return;
	} else
		cgi_body_end(c);	/* no body: EOF on its stdin at once */
	cgi_update_reading(c);
}

int
cgi_request(struct conn *c, const char *dir, char *const *extra,
    size_t nextra)
{
	struct cgi		*g;
	size_t			 i;
	int			 found;

	if ((found = cgi_resolve(c, dir, c->path)) == 0)
		return 0;
	if (found == -2) {
		conn_http_respond(c, 503, "out of memory");
		return 1;
	}
	if (found == -1) {
		log_info("conn %llu %s %s: 403: CGI file not executable",
		    (unsigned long long)c->id, c->peer, c->path);
		conn_http_respond(c, 403, NULL);
		return 1;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		conn_http_respond(c, 503, "out of memory");
		return 1;
	}
	if (c->req->content_length > c->cref->cfg->cgi_max_body) {
		log_info("conn %llu %s %s: 413: request body too large",
		    (unsigned long long)c->id, c->peer, c->path);
		conn_http_respond(c, 413, NULL);
		free(g);
		return 1;
	}
	for (i = 0; i < nextra; i++)
		if (strlist_try_add(&g->extra, extra[i]) == -1) {
			strlist_free(&g->extra);
			free(g);
			conn_http_respond(c, 503, "out of memory");
			return 1;
		}
	c->cgi = g;
	g->method_head = c->req->method == HTTP_HEAD;
	ev_timer_init(&g->timer, cgi_timer_cb,
	    c->cref->cfg->cgi_timeout_ms / 1000., 0.);
	g->timer.data = c;
	endpoint_init(&g->out, c, CONFIG_BUFFER_SIZE, NULL);
	g->exit_status = -1;
	backend_init(&g->be, &backend_cgi_ops, &cgi_owner, c);
	if (conn_lookup(c, cgi_start) == 0)
		cgi_start(c);
	return 1;
}

void
cgi_free(struct conn *c)
{
	if (c->cgi == NULL)
		return;
	endpoint_close(&c->cgi->out);
	backend_stop(&c->cgi->be);
	ev_timer_stop(server.loop, &c->cgi->timer);
	strlist_free(&c->cgi->extra);
	free(c->cgi->body);
	free(c->cgi);
	c->cgi = NULL;
}

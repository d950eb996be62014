/*
 * libFuzzer target for request heads: hs_parse over the input whole and
 * cut into chunks must agree (llhttp splits names and values at chunk
 * ends, the arena must put them back together); a complete head then
 * goes through everything the daemon does with one: hs_classify, header
 * lookups, subprotocol choice, hs_split_url, the accept key and both
 * response heads. A head with a body then has the bytes after it decoded
 * by hs_body whole and in chunks, which must agree. Pipelined requests
 * after it are parsed after hs_reset, as on a keep-alive connection.
 *
 * Input: byte 0 picks max_head, bytes 1..4 chunk sizes (cycled, 0 = the
 * rest), then the stream.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handshake.h"

#define FUZZ_PREFIX	5
#define FUZZ_PIPELINE	4	/* requests parsed per input at most */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const size_t fuzz_max_heads[8] = {
	0, 16, 64, 200, 512, 2048, 8192, 16384
};

static char *const fuzz_protocols[] = {
	"chat", "superchat", "v2.bin", "Chat", ""
};
#define FUZZ_NPROTOCOLS	(sizeof(fuzz_protocols) / sizeof(fuzz_protocols[0]))

static const char *const fuzz_names[] = {
	"Host", "Upgrade", "Connection", "Sec-WebSocket-Key",
	"Sec-WebSocket-Version", "Sec-WebSocket-Protocol", "Origin",
	"Sec-WebSocket-Extensions", "X-Forwarded-For", "",
};

/* Outcome of one parse: bytes of the head, 0 for more, -1 and status. */
struct fuzz_result {
	ssize_t	 n;
	int	 status;
};

static void
fuzz_parse_once(struct hs_request *req, const char *p, size_t len,
    struct fuzz_result *r)
{
	const char	*why = NULL;

	r->status = 0;
	r->n = hs_parse(req, p, len, &r->status, &why);
	assert(r->n >= -1 && r->n <= (ssize_t)len);
	assert(r->n != -1 || why != NULL);
}

/* Feed the same bytes in chunks; report as one call over all of them would. */
static void
fuzz_parse_chunks(struct hs_request *req, const uint8_t *cuts,
    const char *p, size_t len, struct fuzz_result *r)
{
	size_t	 off = 0, chunk, i = 0;

	r->n = 0;
	r->status = 0;
	do {
		chunk = cuts[i++ % 4];
		if (chunk == 0 || chunk > len - off)
			chunk = len - off;
		fuzz_parse_once(req, p + off, chunk, r);
		if (r->n > 0)
			r->n += (ssize_t)off;
		off += chunk;
	} while (r->n == 0 && off < len);
}

/* Headers as parsed must not depend on where the chunks were cut. */
static void
fuzz_compare(const struct hs_request *a, const struct hs_request *b)
{
	size_t	 i;

	assert(a->complete && b->complete);
	assert(a->head_len == b->head_len);
	assert(a->method == b->method && a->http_major == b->http_major &&
	    a->http_minor == b->http_minor && a->keep_alive == b->keep_alive);
	assert(a->url != NULL && b->url != NULL);
	assert(strcmp(a->url, b->url) == 0);
	assert(a->nheaders == b->nheaders);
	for (i = 0; i < a->nheaders; i++) {
		assert(strcmp(a->headers[i].name, b->headers[i].name) == 0);
		assert(strcmp(a->headers[i].value, b->headers[i].value) == 0);
	}
}

/* Strings handed to the rest of the daemon stay within the arena. */
static void
fuzz_check_strings(const struct hs_request *req)
{
	const char	*end = req->arena + req->arena_len;
	size_t		 i;

	assert(req->head_len <= req->max_head);
	assert(req->nheaders <= HS_MAX_HEADERS);
	assert(req->url >= req->arena && req->url < end);
	assert(req->url + strlen(req->url) < end);
	for (i = 0; i < req->nheaders; i++) {
		assert(req->headers[i].name != NULL);
		assert(req->headers[i].value != NULL);
		assert(req->headers[i].value + strlen(req->headers[i].value)
		    < end);
		/* Values reach CGI variables and logs: no line breaks. */
		assert(strpbrk(req->headers[i].name, "\r\n") == NULL);
		assert(strpbrk(req->headers[i].value, "\r\n") == NULL);
	}
	assert(strpbrk(req->url, "\r\n") == NULL);
}

static void
fuzz_lookups(const struct hs_request *req)
{
	const char	*v, *proto;
	size_t		 i, j;

	for (i = 0; i < sizeof(fuzz_names) / sizeof(fuzz_names[0]); i++) {
		v = hs_header(req, fuzz_names[i]);
		for (j = 0; j < req->nheaders; j++)
			if (strcasecmp(req->headers[j].name,
			    fuzz_names[i]) == 0)
				break;
		assert(v == (j < req->nheaders ? req->headers[j].value :
		    NULL));
		(void)hs_header_has_token(req, fuzz_names[i], "websocket");
		(void)hs_header_has_token(req, fuzz_names[i], "upgrade");
	}
	proto = hs_select_protocol(req, fuzz_protocols, FUZZ_NPROTOCOLS);
	if (proto != NULL) {
		for (i = 0; i < FUZZ_NPROTOCOLS; i++)
			if (proto == fuzz_protocols[i])
				break;
		assert(i < FUZZ_NPROTOCOLS && *proto != '\0');
		assert(hs_header_has_token(req, "Sec-WebSocket-Protocol",
		    proto));
	}
}

/* Build both responses from what the client sent. */
static void
fuzz_responses(const struct hs_request *req, enum hs_kind kind, int status)
{
	char		 accept[HS_ACCEPT_KEY_SIZE], path[1024], query[1024];
	char		*extra[HS_MAX_HEADERS], *r;
	const char	*key, *proto;
	size_t		 i, len;

	key = hs_header(req, "Sec-WebSocket-Key");
	hs_accept_key(key != NULL ? key : "", accept);
	assert(strlen(accept) == 28);
	if (kind == HS_UPGRADE)
		assert(key != NULL && strlen(key) == 24);
	for (i = 0; i < req->nheaders; i++)
		extra[i] = (char *)(uintptr_t)req->headers[i].value;
	proto = hs_select_protocol(req, fuzz_protocols, FUZZ_NPROTOCOLS);
	r = hs_response_101(accept, proto,
	    hs_header(req, "Sec-WebSocket-Extensions"), extra, req->nheaders,
	    &len);
	assert(r != NULL && len >= 4);
	assert(memcmp(r + len - 4, "\r\n\r\n", 4) == 0);
	free(r);
	if (hs_split_url(req->url, path, sizeof(path), query,
	    sizeof(query)) == 0)
		assert(path[0] == '/' && strlen(path) < sizeof(path));
	r = hs_response_error(status != 0 && status != 101 ? status : 404,
	    req->nheaders > 0 ? req->headers[0].value : NULL,
	    req->method == HTTP_HEAD, (int)req->nheaders, extra,
	    req->nheaders, &len);
	assert(r != NULL && strncmp(r, "HTTP/1.1 ", 9) == 0);
	free(r);
}

static void
fuzz_complete(struct hs_request *req)
{
	struct fuzz_result	 r;
	const char		*why = NULL;
	enum hs_kind		 kind;
	int			 status;

	fuzz_check_strings(req);
	kind = hs_classify(req, &status, &why);
	switch (kind) {
	case HS_PLAIN:
		assert(status == 0 && why == NULL);
		break;
	case HS_UPGRADE:
		assert(status == 101);
		break;
	case HS_BAD:
		assert((status == 400 || status == 405 || status == 426 ||
		    status == 505) &&
		    why != NULL);
		break;
	default:
		assert(0);
	}
	fuzz_lookups(req);
	fuzz_responses(req, kind, status);
	/* Without hs_reset, more bytes are refused. */
	fuzz_parse_once(req, "x", 1, &r);
	assert(r.n == -1 && r.status == 500);
}

/* Body decoding of what follows the head, in one piece or in chunks. */
struct fuzz_body {
	char	*out;
	size_t	 outlen;
	size_t	 taken;
	int	 status;
	bool	 done;
};

static void
fuzz_body_run(struct hs_request *req, const uint8_t *cuts, const char *p,
    size_t len, struct fuzz_body *fb)
{
	const char	*why = NULL;
	size_t		 chunk, got, i = 0;
	ssize_t		 n;

	fb->out = malloc(len + 1);
	assert(fb->out != NULL);
	fb->outlen = fb->taken = 0;
	fb->status = 0;
	do {
		chunk = cuts == NULL ? len - fb->taken : cuts[i++ % 4];
		if (chunk == 0 || chunk > len - fb->taken)
			chunk = len - fb->taken;
		n = hs_body(req, p + fb->taken, len - fb->taken,
		    fb->out + fb->outlen, chunk, &got, &fb->status, &why);
		if (n == -1) {
			assert(fb->status == 400 && why != NULL);
			break;
		}
		assert((size_t)n <= chunk && got <= (size_t)n);
		fb->taken += (size_t)n;
		fb->outlen += got;
	} while (!req->body_done && fb->taken < len);
	fb->done = req->body_done;
	if (fb->done && req->content_length >= 0)
		assert(fb->outlen == (size_t)req->content_length);
}

/* The decoded body must not depend on where the chunks were cut. */
static void
fuzz_body(struct hs_request *b, const uint8_t *cuts, const char *head,
    size_t headlen, const char *p, size_t len, size_t max_head)
{
	struct hs_request	*w;
	struct fuzz_result	 r;
	struct fuzz_body	 whole, cut;

	if (!b->has_body)
		return;
	w = malloc(sizeof(*w));
	assert(w != NULL && hs_init(w, max_head) == 0);
	fuzz_parse_once(w, head, headlen, &r);
	assert(r.n == (ssize_t)headlen && w->has_body);
	fuzz_body_run(w, NULL, p, len, &whole);
	fuzz_body_run(b, cuts, p, len, &cut);
	assert((whole.status == 0) == (cut.status == 0));
	if (whole.status == 0) {
		assert(whole.done == cut.done && whole.taken == cut.taken);
		assert(whole.outlen == cut.outlen);
		assert(memcmp(whole.out, cut.out, whole.outlen) == 0);
	}
	free(whole.out);
	free(cut.out);
	hs_free(w);
	free(w);
}

/* One request from p; returns the head's length or 0 when it ends there. */
static size_t
fuzz_request(struct hs_request *a, struct hs_request *b, const uint8_t *cuts,
    const char *p, size_t len)
{
	struct fuzz_result	 ra, rb, again;

	fuzz_parse_once(a, p, len, &ra);
	fuzz_parse_chunks(b, cuts, p, len, &rb);
	assert(ra.n == rb.n);
	/*
	 * Known difference (tests/fuzz/regressions/handshake/
	 * status-101st-header-split): hs_field_cb counts a 101st header on a
	 * piece of its name that a chunk end delivers, before llhttp has
	 * seen the rest; whole, a bad byte in that name is a 400 first.
	 * Either way the request fails.
	 */
	if (ra.status != rb.status)
		assert(a->nheaders == HS_MAX_HEADERS &&
		    b->nheaders == HS_MAX_HEADERS &&
		    (ra.status == 431 || rb.status == 431));
	assert(a->head_len <= a->max_head && b->head_len <= b->max_head);
	if (ra.n == -1) {
		assert(ra.status == 400 || ra.status == 431);
		/* Failure is sticky. */
		fuzz_parse_once(a, "GET / HTTP/1.1\r\n\r\n", 18, &again);
		assert(again.n == -1 && again.status == ra.status);
		return 0;
	}
	if (ra.n == 0)
		return 0;
	assert((size_t)ra.n == a->head_len);
	fuzz_compare(a, b);
	fuzz_body(b, cuts, p, (size_t)ra.n, p + ra.n, len - (size_t)ra.n,
	    a->max_head);
	fuzz_complete(a);
	return (size_t)ra.n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs_request	*a, *b;
	const char		*p;
	size_t			 len, used, i;

	if (size < FUZZ_PREFIX)
		return 0;
	/* Heap, not stack: the struct moves between calls in the daemon. */
	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	assert(a != NULL && b != NULL);
	assert(hs_init(a, fuzz_max_heads[data[0] & 7]) == 0);
	assert(hs_init(b, fuzz_max_heads[data[0] & 7]) == 0);
	p = (const char *)data + FUZZ_PREFIX;
	len = size - FUZZ_PREFIX;
	for (i = 0; i < FUZZ_PIPELINE; i++) {
		if ((used = fuzz_request(a, b, data + 1, p, len)) == 0)
			break;
		p += used;
		len -= used;
		hs_reset(a);
		hs_reset(b);
	}
	hs_free(a);
	hs_free(b);
	free(a);
	free(b);
	return 0;
}

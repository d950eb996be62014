/*
 * The event-stream encoding: text as data lines (split where the
 * client's parser splits lines), binary as base64 under "event: binary",
 * each event numbered by "id:"; the close event. Pure: no I/O.
 */
#include <sys/uio.h>

#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "sse.h"

/* The longest event head: "event: binary\nid: N\ndata: ". */
#define SSE_HEAD_MAX	64

static int
sse_put(struct buf *b, const void *p, size_t n)
{
	return n > 0 ? buf_append(b, p, n) : 0;
}

static int
sse_puts(struct buf *b, const char *s)
{
	return sse_put(b, s, strlen(s));
}

/*
 * Text: a line break (CRLF, LF or CR, as the SSE parser splits lines)
 * starts another data line, which the client joins back with LF. A CRLF
 * may straddle two pieces. The runs between breaks are found by memchr:
 * this is the transport's hot loop.
 */
static int
sse_text(struct sse_enc *e, struct buf *b, const uint8_t *p, size_t n)
{
	const uint8_t	*end = p + n, *lf, *cr, *brk;

	lf = memchr(p, '\n', n);
	cr = memchr(p, '\r', n);
	while (p < end) {
		if (lf != NULL && lf < p)
			lf = memchr(p, '\n', (size_t)(end - p));
		if (cr != NULL && cr < p)
			cr = memchr(p, '\r', (size_t)(end - p));
		brk = lf == NULL || (cr != NULL && cr < lf) ? cr : lf;
		if (brk == NULL)
			brk = end;
		if (brk > p) {
			e->cr = false;
			if (sse_put(b, p, (size_t)(brk - p)) == -1)
				return -1;
			p = brk;
			continue;
		}
		if (*p++ == '\n' && e->cr) {
			e->cr = false;
			continue;
		}
		e->cr = p[-1] == '\r';
		if (sse_puts(b, "\ndata: ") == -1)
			return -1;
	}
	return 0;
}

static int
sse_b64(struct buf *b, const uint8_t *p, size_t n)
{
	uint8_t	*dst;

	if (n == 0)
		return 0;
	if ((dst = buf_reserve(b, BASE64_ENCODED_SIZE(n))) == NULL)
		return -1;
	buf_commit(b, base64_encode((char *)dst, p, n));
	return 0;
}

/* Binary: base64 in groups of three bytes; the rest waits for more. */
static int
sse_binary(struct sse_enc *e, struct buf *b, const uint8_t *p, size_t n)
{
	size_t	 k;

	while (n > 0 && e->ncarry > 0 && e->ncarry < 3) {
		e->carry[e->ncarry++] = *p++;
		n--;
	}
	if (e->ncarry == 3) {
		if (sse_b64(b, e->carry, 3) == -1)
			return -1;
		e->ncarry = 0;
	}
	k = n / 3 * 3;
	if (sse_b64(b, p, k) == -1)
		return -1;
	memcpy(e->carry + e->ncarry, p + k, n - k);
	e->ncarry += n - k;
	return 0;
}

/* "[event: binary\n]id: SEQ\ndata: " (no printf: once per message). */
static size_t
sse_head(char *dst, enum msg_type type, uint64_t seq)
{
	static const char	 bin[] = "event: binary\nid: ", txt[] = "id: ";
	char			 dec[20];
	size_t			 o, k = 0;

	if (type == MSG_BINARY) {
		memcpy(dst, bin, sizeof(bin) - 1);
		o = sizeof(bin) - 1;
	} else {
		memcpy(dst, txt, sizeof(txt) - 1);
		o = sizeof(txt) - 1;
	}
	do
		dec[k++] = (char)('0' + seq % 10);
	while ((seq /= 10) > 0);
	while (k > 0)
		dst[o++] = dec[--k];
	memcpy(dst + o, "\ndata: ", 7);
	return o + 7;
}

int
sse_enc_message(struct sse_enc *e, struct buf *b, enum msg_type type,
    const struct iovec *iov, int iovcnt, bool fin)
{
	char	*head;
	int	 i, rv = 0;

	if (!e->open) {
		if ((head = (char *)buf_reserve(b, SSE_HEAD_MAX)) == NULL)
			return -1;
		buf_commit(b, sse_head(head, type, ++e->seq));
		e->open = true;
		e->cr = false;
		e->ncarry = 0;
	}
	for (i = 0; i < iovcnt && rv == 0; i++)
		rv = type == MSG_BINARY ? sse_binary(e, b, iov[i].iov_base,
		    iov[i].iov_len) : sse_text(e, b, iov[i].iov_base,
		    iov[i].iov_len);
	if (rv == 0 && fin) {
		if (sse_b64(b, e->carry, e->ncarry) == -1 ||
		    sse_puts(b, "\n\n") == -1)
			return -1;
		e->ncarry = 0;
		e->open = false;
	}
	return rv;
}

void
sse_json_string(char *dst, size_t len, const char *s)
{
	size_t	 o = 0;

	for (; *s != '\0' && o + 7 < len; s++) {
		if (*s == '"' || *s == '\\') {
			dst[o++] = '\\';
			dst[o++] = *s;
		} else if ((unsigned char)*s < 0x20)
			o += (size_t)snprintf(dst + o, len - o, "\\u%04x",
			    (unsigned char)*s);
		else
			dst[o++] = *s;
	}
	dst[o] = '\0';
}

int
sse_enc_close(struct sse_enc *e, struct buf *b, unsigned code,
    const char *reason)
{
	char		 why[256], ev[400], dropped[40] = "";

	/*
	 * SSE cannot retract what went out, but the client dispatches an
	 * event only at its blank line: a later "event:" field renames it.
	 */
	if (e->open) {
		if (sse_puts(b, "\nevent: " SSE_DROPPED_EVENT "\n\n") == -1)
			return -1;
		snprintf(dropped, sizeof(dropped), ",\"dropped\":%llu",
		    (unsigned long long)e->seq);
		e->open = false;
		e->ncarry = 0;
	}
	sse_json_string(why, sizeof(why), reason != NULL ? reason : "");
	snprintf(ev, sizeof(ev), "event: close\ndata: {\"code\":%u,"
	    "\"reason\":\"%s\"%s}\n\n", code, why, dropped);
	return sse_puts(b, ev);
}

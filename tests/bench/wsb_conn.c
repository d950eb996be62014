/*
 * wsb_conn.c: connection slots, the upgrade handshake, the frame codec and
 * partial I/O of the load client.
 */

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsbench.h"

/*
 * One thread, masked frames of any length, partial reads and writes,
 * pipelined messages.  Echoes are counted in bytes, so a byte-stream backend
 * may split or merge messages.
 */

uint32_t			 rng = 2463534242u;
static uint8_t			*pattern;
static uint8_t			 rbuf[WB_READ_SIZE];

static int	ws_feed(struct wb_conn *, const uint8_t *, size_t);


/* xorshift32: mask keys and handshake keys need variety, not secrecy. */
uint32_t
rand32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/*
 * Payload bytes come from one printable pattern (no '\n', so line-based
 * backends echo them as they were), read at the stream offset: an echo can
 * be checked anywhere without remembering what was sent.
 */
void
pattern_init(size_t span)
{
	static const char	 cs[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t			 i;

	if ((pattern = malloc(WB_PATTERN_LEN + span)) == NULL)
		die("out of memory");
	for (i = 0; i < WB_PATTERN_LEN; i++)
		pattern[i] = (uint8_t)cs[rand32() % (sizeof(cs) - 1)];
	for (; i < WB_PATTERN_LEN + span; i++)
		pattern[i] = pattern[i - WB_PATTERN_LEN];
}

static void
base64(const uint8_t *in, int n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, n);
}

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key GUID)), RFC 6455 4.2.2. */
static void
ws_accept(const char *key, char out[32])
{
	char		 s[96];
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;

	snprintf(s, sizeof(s), "%s%s", key, WS_GUID);
	if (!EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha1(), NULL))
		die("EVP_Digest failed");
	base64(md, (int)mdlen, out);
}

static void
conn_events(struct wb_conn *c, uint32_t want)
{
	struct epoll_event	 ev;
	int			 op;

	if (c->stopped)
		want = 0;	/* fanout: a client that never reads */
	if (c->events == want)
		return;
	if (want == 0) {
		if (epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL) == -1)
			die("epoll_ctl: %s", strerror(errno));
		c->events = 0;
		return;
	}
	op = c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	ev.events = want;
	ev.data.u64 = (uint64_t)c->gen << 32 | (uint64_t)(c - conns);
	if (epoll_ctl(epfd, op, c->fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
	c->events = want;
}

/* The only place a state changes, so the counts stay right. */
void
conn_set_state(struct wb_conn *c, enum wb_state s)
{
	if (c->state == WB_FREE && s != WB_FREE)
		nlive++;
	if (c->state != WB_FREE && s == WB_FREE)
		nlive--;
	if (c->state == WB_OPEN)
		nopen--;
	if (s == WB_OPEN)
		nopen++;
	c->state = s;
}

static void
obuf_reserve(struct wb_conn *c, size_t n)
{
	size_t	 cap;

	if (c->ooff == c->olen)
		c->ooff = c->olen = 0;
	if (c->ocap - c->olen >= n)
		return;
	cap = c->ocap ? c->ocap * 2 : 4096;
	while (cap - c->olen < n)
		cap *= 2;
	if ((c->obuf = realloc(c->obuf, cap)) == NULL)
		die("out of memory");
	c->ocap = cap;
}

/* Copy n bytes masked with key; eight at a time, then the tail. */
static void
mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4])
{
	uint8_t		 k8[8];
	uint64_t	 m, w;
	size_t		 i;

	memcpy(k8, key, 4);
	memcpy(k8 + 4, key, 4);
	memcpy(&m, k8, 8);
	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, src + i, 8);
		w ^= m;
		memcpy(dst + i, &w, 8);
	}
	for (; i < n; i++)
		dst[i] = src[i] ^ key[i & 3];
}

static void
queue_frame(struct wb_conn *c, int op, const uint8_t *p, size_t n)
{
	uint8_t		*h;
	uint32_t	 key = rand32();
	size_t		 hl;
	int		 i;

	obuf_reserve(c, n + 14);
	h = c->obuf + c->olen;
	h[0] = 0x80 | op;
	if (n < 126) {
		h[1] = 0x80 | n;
		hl = 2;
	} else if (n <= 0xffff) {
		h[1] = 0x80 | 126;
		h[2] = n >> 8;
		h[3] = n & 0xff;
		hl = 4;
	} else {
		h[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (uint64_t)n >> (56 - 8 * i);
		hl = 10;
	}
	memcpy(h + hl, &key, 4);
	mask_copy(h + hl + 4, p, n, h + hl);
	c->olen += hl + 4 + n;
}

/* Queue the next message of the connection's stream and note its time. */
void
queue_msg(struct wb_conn *c)
{
	const uint8_t	*p = pattern + c->sent % WB_PATTERN_LEN;
	size_t		 n = (size_t)opt.size;

	c->ts[c->queued % (uint64_t)opt.depth] = now;
	c->queued++;
	c->sent += n;
	if (opt.raw) {
		obuf_reserve(c, n);
		memcpy(c->obuf + c->olen, p, n);
		c->olen += n;
	} else
		queue_frame(c, opt.binary ? WS_OP_BINARY : WS_OP_TEXT, p, n);
}

void
queue_close(struct wb_conn *c)
{
	static const uint8_t	 normal[2] = { 0x03, 0xe8 };	/* 1000 */

	queue_frame(c, WS_OP_CLOSE, normal, sizeof(normal));
	c->sent_close = true;
}

/* Send the upgrade request; the response must carry this accept value. */
static void
hs_start(struct wb_conn *c)
{
	uint8_t	 raw[16];
	char	 key[32];
	int	 i, n;

	for (i = 0; i < 16; i++)
		raw[i] = (uint8_t)rand32();
	base64(raw, sizeof(raw), key);
	ws_accept(key, c->accept);
	obuf_reserve(c, 512);
	n = snprintf((char *)c->obuf + c->olen, 512, "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    opt.path, hostport, key);
	c->olen += (size_t)n;
	if ((c->hbuf = malloc(WB_HANDSHAKE_MAX + 1)) == NULL)
		die("out of memory");
	c->hlen = 0;
	conn_set_state(c, WB_HANDSHAKE);
}

static const char *
hs_check(const struct wb_conn *c)
{
	const char	*l, *v;
	size_t		 n = strlen(c->accept);

	if (strncmp(c->hbuf, "HTTP/1.1 101", 12) != 0)
		return "no 101";
	for (l = strstr(c->hbuf, "\r\n"); l != NULL; l = strstr(l + 2, "\r\n")) {
		if (strncasecmp(l + 2, "Sec-WebSocket-Accept:", 21) != 0)
			continue;
		for (v = l + 23; *v == ' ' || *v == '\t'; v++)
			;
		if (strncmp(v, c->accept, n) == 0 &&
		    (v[n] == '\r' || v[n] == ' '))
			return NULL;
		return "wrong Sec-WebSocket-Accept";
	}
	return "no Sec-WebSocket-Accept";
}

/*
 * Fires with response bytes until the blank line; the rest are frames
 * (a shared session's output may follow the 101 in the same read).
 */
static int
hs_feed(struct wb_conn *c, const uint8_t *p, size_t n)
{
	const char	*why, *end;
	char		*h;
	size_t		 take, head, used;
	int		 rv = 0;

	take = WB_HANDSHAKE_MAX - c->hlen;
	take = n < take ? n : take;
	memcpy(c->hbuf + c->hlen, p, take);
	c->hlen += take;
	c->hbuf[c->hlen] = '\0';
	if ((end = strstr(c->hbuf, "\r\n\r\n")) == NULL) {
		if (c->hlen == WB_HANDSHAKE_MAX)
			conn_fail(c, "handshake response too long");
		return c->hlen == WB_HANDSHAKE_MAX ? -1 : 0;
	}
	if ((why = hs_check(c)) != NULL) {
		conn_fail(c, "handshake: %s: %.40s", why, c->hbuf);
		return -1;
	}
	head = (size_t)(end + 4 - c->hbuf);
	used = head - (c->hlen - take);	/* of p, the rest of the head */
	h = c->hbuf;
	c->hbuf = NULL;
	c->deadline = 0;
	conn_set_state(c, WB_OPEN);
	mode_open(c);
	free(h);
	if (c->state != WB_FREE && n > used)
		rv = ws_feed(c, p + used, n - used);
	return rv;
}

/*
 * Fan-out: the lines of tests/bench/lines.c, as text messages without
 * their '\n' (WebSocket) or as a byte stream from a line start (raw). A
 * verified connection checks that each line's number follows the last.
 */
static int
line_check(struct wb_conn *c, const char *p, size_t n)
{
	uint64_t	 seq = 0;
	size_t		 i;
	int		 d;

	if (n < WB_SEQ_LEN + 1 || p[WB_SEQ_LEN] != ' ') {
		conn_fail(c, "not a numbered line: %.*s", (int)n, p);
		return -1;
	}
	for (i = 0; i < WB_SEQ_LEN; i++) {
		d = p[i] >= '0' && p[i] <= '9' ? p[i] - '0' :
		    p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10 : -1;
		if (d < 0) {
			conn_fail(c, "bad line number: %.*s", WB_SEQ_LEN, p);
			return -1;
		}
		seq = seq << 4 | (uint64_t)d;
	}
	if (c->seq_known && seq != c->lseq + 1) {
		conn_fail(c, "line %" PRIu64 " after line %" PRIu64, seq,
		    c->lseq);
		return -1;
	}
	c->lseq = seq;
	c->seq_known = true;
	return 0;
}

/* Raw fan-out bytes: whole lines are counted, verified ones checked. */
static int
fanout_stream(struct wb_conn *c, const uint8_t *p, size_t n)
{
	size_t		 size = (size_t)opt.size, m;
	uint64_t	 before = c->recvd / size;

	c->recvd += n;
	while (c->line != NULL && n > 0) {
		m = n < size - c->linelen ? n : size - c->linelen;
		memcpy(c->line + c->linelen, p, m);
		c->linelen += m;
		p += m;
		n -= m;
		if (c->linelen < size)
			break;
		c->linelen = 0;
		if (c->line[size - 1] != '\n') {
			conn_fail(c, "line without its newline");
			return -1;
		}
		if (line_check(c, c->line, size - 1) == -1)
			return -1;
	}
	mode_lines(c, c->recvd / size - before);
	return 0;
}

/* A whole fan-out message: one line. */
static int
fanout_message(struct wb_conn *c)
{
	if (c->msglen != (uint64_t)opt.size - 1) {
		conn_fail(c, "a line of %" PRIu64 " bytes, not %lld", c->msglen,
		    opt.size - 1);
		return -1;
	}
	if (c->line != NULL && line_check(c, c->line, c->linelen) == -1)
		return -1;
	c->linelen = 0;
	c->msglen = 0;
	mode_lines(c, 1);
	return 0;
}

/* Count echoed payload; a message is back once all its bytes are. */
static int
data_payload(struct wb_conn *c, const uint8_t *p, size_t n)
{
	uint64_t	 size = (uint64_t)opt.size, t;
	size_t		 m;

	if (opt.mode == WB_FANOUT && opt.raw)
		return fanout_stream(c, p, n);
	if (opt.mode == WB_FANOUT) {
		/* Keep the line's bytes (up to its size) for the check. */
		m = c->linelen < size ? (size_t)size - c->linelen : 0;
		m = m < n ? m : n;
		if (c->line != NULL && m > 0) {
			memcpy(c->line + c->linelen, p, m);
			c->linelen += m;
		}
		return 0;
	}

	if (c->recvd + n > c->sent) {
		conn_fail(c, "%zu bytes more than sent", n);
		return -1;
	}
	if (c->verify && memcmp(p, pattern + c->recvd % WB_PATTERN_LEN,
	    n) != 0) {
		conn_fail(c, "echoed bytes differ near offset %" PRIu64,
		    c->recvd);
		return -1;
	}
	c->recvd += n;
	while (c->done < c->queued && (c->done + 1) * size <= c->recvd) {
		t = c->ts[c->done % (uint64_t)opt.depth];
		c->done++;
		mode_echoed(c, now - t);
		if (c->state == WB_FREE)
			return -1;
	}
	return 0;
}

/* Fires at the end of a control frame. */
static int
ws_control(struct wb_conn *c)
{
	if (c->fop == WS_OP_PING)
		queue_frame(c, WS_OP_PONG, c->ctl, c->ctllen);
	if (c->fop != WS_OP_CLOSE)
		return 0;
	c->got_close = true;
	if (c->state == WB_CLOSING)
		return 0;
	conn_fail(c, "server sent Close %d",
	    c->ctllen >= 2 ? c->ctl[0] << 8 | c->ctl[1] : 1005);
	return -1;
}

/* Fires at the end of each frame. */
static int
ws_frame_end(struct wb_conn *c)
{
	if (c->fop >= WS_OP_CLOSE)
		return ws_control(c);
	if (!c->ffin)
		return 0;
	if (opt.mode == WB_FANOUT)
		return fanout_message(c);
	/* Line-based text routes keep message boundaries: check lengths. */
	if (!opt.binary && c->msglen != (uint64_t)opt.size) {
		conn_fail(c, "echoed message of %" PRIu64 " bytes, sent %lld",
		    c->msglen, opt.size);
		return -1;
	}
	c->msglen = 0;
	return 0;
}

static size_t
ws_header_need(const struct wb_conn *c)
{
	size_t	 len7;

	if (c->hdrlen < 2)
		return 2;
	len7 = c->hdr[1] & 0x7f;
	return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) +
	    (c->hdr[1] & 0x80 ? 4 : 0);
}

static const char *
ws_header_parse(struct wb_conn *c)
{
	uint64_t	 len = c->hdr[1] & 0x7f;
	int		 i;

	if (c->hdr[1] & 0x80)
		return "masked frame from the server";
	if (c->hdr[0] & 0x70)
		return "RSV bits set";
	c->fop = c->hdr[0] & 0x0f;
	c->ffin = (c->hdr[0] & 0x80) != 0;
	if (c->fop > WS_OP_BINARY && c->fop < WS_OP_CLOSE)
		return "reserved opcode";
	if (c->fop > WS_OP_PONG)
		return "reserved opcode";
	if (len == 126)
		len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
	else if (len == 127)
		for (len = 0, i = 2; i < 10; i++)
			len = len << 8 | c->hdr[i];
	if (c->fop >= WS_OP_CLOSE && (len > 125 || !c->ffin))
		return "bad control frame";
	c->frem = len;
	return NULL;
}

/* Take header bytes; returns bytes used, or -1 once the conn is gone. */
static ssize_t
ws_header_feed(struct wb_conn *c, const uint8_t *p, size_t n)
{
	const char	*why;
	size_t		 used = 0;

	while (used < n && c->hdrlen < ws_header_need(c))
		c->hdr[c->hdrlen++] = p[used++];
	if (c->hdrlen < ws_header_need(c))
		return (ssize_t)used;
	c->hdrlen = 0;
	if ((why = ws_header_parse(c)) != NULL) {
		conn_fail(c, "frame: %s", why);
		return -1;
	}
	c->ctllen = 0;
	c->inpay = c->frem > 0;
	if (!c->inpay && ws_frame_end(c) == -1)
		return -1;
	return (ssize_t)used;
}

static int
ws_payload(struct wb_conn *c, const uint8_t *p, size_t n)
{
	if (c->fop >= WS_OP_CLOSE) {
		memcpy(c->ctl + c->ctllen, p, n);
		c->ctllen += n;
		return 0;
	}
	c->msglen += n;
	return data_payload(c, p, n);
}

/*
 * Fan-out, unverified connections: count whole short data frames of the
 * expected length straight from the buffer (the client must not be what
 * limits a fan-out); returns the bytes they took. Anything else is left
 * to the frame decoder, which checks it.
 */
static size_t
fanout_fast(struct wb_conn *c, const uint8_t *p, size_t n)
{
	size_t		 used = 0, len = (size_t)opt.size - 1;
	uint64_t	 k = 0;

	if (opt.mode != WB_FANOUT || c->line != NULL || c->inpay ||
	    c->hdrlen != 0 || len >= 126)
		return 0;
	while (n - used >= 2 + len && (p[used] == (0x80 | WS_OP_TEXT) ||
	    p[used] == (0x80 | WS_OP_BINARY)) && p[used + 1] == len) {
		used += 2 + len;
		k++;
	}
	if (k > 0)
		mode_lines(c, k);
	return used;
}

/* Decode server frames; returns -1 once the connection is gone. */
static int
ws_feed(struct wb_conn *c, const uint8_t *p, size_t n)
{
	ssize_t	 k;
	size_t	 f;

	while (n > 0) {
		if ((f = fanout_fast(c, p, n)) > 0) {
			p += f;
			n -= f;
			continue;
		}
		if (!c->inpay) {
			if ((k = ws_header_feed(c, p, n)) == -1)
				return -1;
		} else {
			k = (ssize_t)(c->frem < n ? c->frem : n);
			if (ws_payload(c, p, (size_t)k) == -1)
				return -1;
			c->frem -= (uint64_t)k;
			if (c->frem == 0) {
				c->inpay = false;
				if (ws_frame_end(c) == -1)
					return -1;
			}
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

void
conn_drop(struct wb_conn *c)
{
	if (c->ssl != NULL)
		wtls_free(c);
	if (c->fd != -1)
		close(c->fd);
	free(c->obuf);
	free(c->hbuf);
	free(c->line);
	c->line = NULL;
	c->fd = -1;
	c->obuf = NULL;
	c->hbuf = NULL;
	c->events = 0;
	conn_set_state(c, WB_FREE);
}

void
conn_fail(struct wb_conn *c, const char *fmt, ...)
{
	va_list	 ap;

	if (nerrors++ < WB_ERR_PRINT) {
		va_start(ap, fmt);
		fprintf(stderr, "wsbench: conn %ld: ", (long)(c - conns));
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, "\n");
		va_end(ap);
	}
	conn_drop(c);
}

/* Write what is queued; the write watcher runs only while bytes wait. */
int
conn_flush(struct wb_conn *c)
{
	ssize_t	 w;

	while (c->ooff < c->olen) {
		w = c->ssl != NULL ? wtls_write(c, c->obuf + c->ooff,
		    c->olen - c->ooff) : write(c->fd, c->obuf + c->ooff,
		    c->olen - c->ooff);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EAGAIN)
			break;
		if (w == -1) {
			conn_fail(c, "write: %s", strerror(errno));
			return -1;
		}
		c->ooff += (size_t)w;
	}
	/*
	 * Large rounds keep their buffer: a fresh 16 MiB one per round
	 * costs more in page faults and munmap than the server's work
	 * (this client measured 470 MB/s against a 1.3 GB/s server).
	 */
	if (c->ooff == c->olen && c->ocap > WB_OBUF_KEEP &&
	    opt.mode != WB_LARGE) {
		free(c->obuf);
		c->obuf = NULL;
		c->ocap = c->olen = c->ooff = 0;
	}
	conn_events(c, EPOLLIN | (c->ooff < c->olen ? EPOLLOUT : 0));
	return 0;
}

/* Start a connection in slot c; failures are counted, not fatal. */
void
conn_start(struct wb_conn *c)
{
	uint32_t	 gen = c->gen;
	uint64_t	*ts = c->ts;
	int		 one = 1;

	memset(c, 0, sizeof(*c));
	c->gen = gen + 1;
	c->ts = ts;
	c->t0 = now;
	c->deadline = now + WB_OPEN_TIMEOUT;
	conn_set_state(c, WB_CONNECTING);
	c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd == -1) {
		conn_fail(c, "socket: %s", strerror(errno));
		return;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&addr, addrlen) == -1 &&
	    errno != EINPROGRESS) {
		conn_fail(c, "connect: %s", strerror(errno));
		return;
	}
	conn_events(c, EPOLLOUT);
}

static void	conn_session_start(struct wb_conn *);

/* Drive the TLS handshake; the session starts when it is done. */
static void
conn_tls_step(struct wb_conn *c)
{
	uint32_t	 want = EPOLLIN;
	int		 rv;

	if ((rv = wtls_handshake(c, &want)) == -1) {
		conn_fail(c, "TLS handshake failed");
		return;
	}
	if (rv == 0) {
		conn_events(c, want);
		return;
	}
	conn_session_start(c);
}

/* Fires when a connecting socket turns writable (or fails). */
static void
conn_connected(struct wb_conn *c)
{
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		conn_fail(c, "connect: %s", strerror(err));
		return;
	}
	c->tcp_up = true;
	if (opt.tls) {
		if (wtls_start(c) == -1) {
			conn_fail(c, "TLS setup failed");
			return;
		}
		conn_tls_step(c);
		return;
	}
	conn_session_start(c);
}

/* Connected (and TLS up): the upgrade, or data at once when raw. */
static void
conn_session_start(struct wb_conn *c)
{
	if (opt.raw) {
		c->deadline = 0;
		conn_set_state(c, WB_OPEN);
		mode_open(c);
	} else
		hs_start(c);
	if (c->state != WB_FREE)
		conn_flush(c);
}

static void
conn_eof(struct wb_conn *c)
{
	if (c->state == WB_CLOSING && c->got_close)
		mode_closed(c);
	else
		conn_fail(c, "connection closed by the server");
}

/* Fires when a connection is readable: one read, decode, then write;
   true when bytes came (TLS may hold more than the socket shows). */
static bool
conn_read(struct wb_conn *c)
{
	ssize_t	 n;
	int	 rv;

	n = c->ssl != NULL ? wtls_read(c, rbuf, sizeof(rbuf)) :
	    read(c->fd, rbuf, sizeof(rbuf));
	now = clock_ns();
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n == -1) {
		conn_fail(c, "read: %s", strerror(errno));
		return false;
	}
	if (n == 0) {
		conn_eof(c);
		return false;
	}
	if (c->state == WB_HANDSHAKE)
		rv = hs_feed(c, rbuf, (size_t)n);
	else if (opt.raw)
		rv = data_payload(c, rbuf, (size_t)n);
	else
		rv = ws_feed(c, rbuf, (size_t)n);
	if (rv == 0 && c->state != WB_FREE)
		conn_flush(c);
	return rv == 0 && c->state != WB_FREE;
}

void
conn_event(const struct epoll_event *ev)
{
	struct wb_conn	*c = &conns[(uint32_t)ev->data.u64];

	if (c->gen != (uint32_t)(ev->data.u64 >> 32) || c->state == WB_FREE)
		return;
	if (c->state == WB_CONNECTING) {
		if (!c->tcp_up)
			conn_connected(c);
		else
			conn_tls_step(c);
		return;
	}
	if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		/* TLS: records decrypted ahead wait inside OpenSSL, not
		   on the socket, so read until it would block. */
		int	 i = 0;

		while (conn_read(c) && c->ssl != NULL && ++i < 64)
			;
	}
	if (c->state != WB_FREE && (ev->events & EPOLLOUT))
		conn_flush(c);
}

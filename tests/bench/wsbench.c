/*
 * wsbench: an epoll WebSocket load client for loopback benchmarks of wsbridge
 * and its peers (tests/bench/run.sh).  One thread, masked frames of any
 * length, partial reads and writes, pipelined messages.  Echoes are counted
 * in bytes, so a byte-stream backend may split or merge messages.
 */

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <openssl/evp.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NSEC			1000000000ULL
#define WB_READ_SIZE		(256 * 1024)
#define WB_PATTERN_LEN		65521	/* prime: messages differ, reorders show */
#define WB_MAX_EVENTS		512
#define WB_HANDSHAKE_MAX	8192
#define WB_OPEN_TIMEOUT		(30 * NSEC)	/* connect and handshake */
#define WB_CLOSE_TIMEOUT	(2 * NSEC)	/* our Close to the server's EOF */
#define WB_GRACE		(5 * NSEC)	/* let running work finish */
#define WB_SETTLE		(2 * NSEC)	/* idle: before reading RSS */
#define WB_SAMPLE_WAIT		(10 * NSEC)	/* idle: for the sample's echoes */
#define WB_TICK			(100 * 1000000ULL)	/* deadline scan */
#define WB_MAX_CONNS		100000
#define WB_MAX_DEPTH		4096
#define WB_MAX_SIZE		(1024LL * 1024 * 1024)
#define WB_MAX_SECONDS		3600
#define WB_MAX_RATE		100000
#define WB_IDLE_PENDING		512	/* idle: handshakes in flight */
#define WB_VERIFY_EVERY		8	/* echo: check content on every 8th */
#define WB_HIST_BUCKETS		2048
#define WB_ERR_PRINT		5
#define WB_OBUF_KEEP		(1024 * 1024)	/* free larger when drained */

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_OP_CONT	0x0
#define WS_OP_TEXT	0x1
#define WS_OP_BINARY	0x2
#define WS_OP_CLOSE	0x8
#define WS_OP_PING	0x9
#define WS_OP_PONG	0xa

enum wb_mode {
	WB_ECHO,
	WB_CONNECT,
	WB_IDLE,
	WB_LARGE,
};

enum wb_state {
	WB_FREE,
	WB_CONNECTING,
	WB_HANDSHAKE,
	WB_OPEN,
	WB_CLOSING,
};

struct wb_conn {
	int		 fd;
	uint32_t	 gen;		/* tells stale epoll events apart */
	uint32_t	 events;	/* registered with epoll */
	enum wb_state	 state;
	bool		 verify;	/* compare echoed bytes with the pattern */
	bool		 sent_close;
	bool		 got_close;
	uint64_t	 t0;		/* session start */
	uint64_t	 deadline;	/* 0: none */
	uint8_t		*obuf;
	size_t		 olen, ooff, ocap;
	char		*hbuf;		/* handshake response, until the 101 */
	size_t		 hlen;
	char		 accept[32];
	uint8_t		 hdr[14];	/* frame header read so far */
	size_t		 hdrlen;
	bool		 inpay;		/* in a frame's payload */
	uint8_t		 fop;
	bool		 ffin;
	uint64_t	 frem;		/* payload left in this frame */
	uint64_t	 msglen;	/* data message so far */
	uint8_t		 ctl[125];
	size_t		 ctllen;
	uint64_t	 sent;		/* payload bytes queued */
	uint64_t	 recvd;		/* payload bytes echoed */
	uint64_t	 queued;	/* messages queued */
	uint64_t	 done;		/* messages echoed in full */
	uint64_t	*ts;		/* send times, a ring of depth */
};

/* Log-linear histogram of nanoseconds: 32 steps per power of two (3%). */
struct hist {
	uint64_t	 n;
	uint64_t	 max;
	uint64_t	 b[WB_HIST_BUCKETS];
};

static struct {
	enum wb_mode	 mode;
	const char	*host;
	const char	*path;
	long long	 port;
	long long	 conns;
	long long	 depth;
	long long	 size;
	long long	 seconds;
	long long	 pid;
	long long	 count;
	long long	 rate;
	long long	 sample;
	int		 binary;
	int		 raw;
} opt;

static struct sockaddr_storage	 addr;
static socklen_t		 addrlen;
static char			 hostport[128];
static int			 epfd;
static struct wb_conn		*conns;
static long			 nconns;
static uint8_t			*pattern;
static uint8_t			 rbuf[WB_READ_SIZE];
static uint64_t			 now;
static uint64_t			 t_start, t_end, t_last;
static long			 nlive;		/* not free */
static long			 nopen;		/* open */
static uint64_t			 nerrors;
static uint64_t			 nmsgs;
static uint64_t			 nsessions;
static struct hist		 lat;
static uint32_t			 rng = 2463534242u;

static void	conn_fail(struct wb_conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	conn_flush(struct wb_conn *);
static void	conn_drop(struct wb_conn *);
static int	ws_feed(struct wb_conn *, const uint8_t *, size_t);

static void
die(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fprintf(stderr, "wsbench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static uint64_t
clock_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

/* xorshift32: mask keys and handshake keys need variety, not secrecy. */
static uint32_t
rand32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static int
hist_index(uint64_t v)
{
	int	 e;

	if (v < 32)
		return (int)v;
	e = 63 - __builtin_clzll(v);
	return 32 + (e - 5) * 32 + (int)((v >> (e - 5)) & 31);
}

static uint64_t
hist_value(int i)
{
	int	 e;

	if (i < 32)
		return (uint64_t)i;
	e = (i - 32) / 32 + 5;
	/* The middle of the bucket. */
	return ((uint64_t)(32 + (i - 32) % 32) << (e - 5)) +
	    ((1ULL << (e - 5)) >> 1);
}

static void
hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* The value below which a fraction p of the samples fall, in microseconds. */
static double
hist_us(const struct hist *h, double p)
{
	uint64_t	 want, seen = 0;
	int		 i;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(p * (double)h->n);
	if (want < 1)
		want = 1;
	for (i = 0; i < WB_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			break;
	}
	if (i == WB_HIST_BUCKETS || hist_value(i) > h->max)
		return (double)h->max / 1e3;
	return (double)hist_value(i) / 1e3;
}

/*
 * Payload bytes come from one printable pattern (no '\n', so line-based
 * backends echo them as they were), read at the stream offset: an echo can
 * be checked anywhere without remembering what was sent.
 */
static void
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

	if (c->events == want)
		return;
	op = c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	ev.events = want;
	ev.data.u64 = (uint64_t)c->gen << 32 | (uint64_t)(c - conns);
	if (epoll_ctl(epfd, op, c->fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
	c->events = want;
}

/* The only place a state changes, so the counts stay right. */
static void
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
static void
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

static void
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

static void	mode_open(struct wb_conn *);

/* Fires with response bytes until the blank line; the rest are frames. */
static int
hs_feed(struct wb_conn *c, const uint8_t *p, size_t n)
{
	const char	*why, *end;
	char		*h;
	size_t		 head;
	int		 rv = 0;

	if (n > WB_HANDSHAKE_MAX - c->hlen) {
		conn_fail(c, "handshake response too long");
		return -1;
	}
	memcpy(c->hbuf + c->hlen, p, n);
	c->hlen += n;
	c->hbuf[c->hlen] = '\0';
	if ((end = strstr(c->hbuf, "\r\n\r\n")) == NULL)
		return 0;
	if ((why = hs_check(c)) != NULL) {
		conn_fail(c, "handshake: %s: %.40s", why, c->hbuf);
		return -1;
	}
	head = (size_t)(end + 4 - c->hbuf);
	h = c->hbuf;
	c->hbuf = NULL;
	c->deadline = 0;
	conn_set_state(c, WB_OPEN);
	mode_open(c);
	if (c->state != WB_FREE && c->hlen > head)
		rv = ws_feed(c, (uint8_t *)h + head, c->hlen - head);
	free(h);
	return rv;
}

static void	mode_echoed(struct wb_conn *, uint64_t);

/* Count echoed payload; a message is back once all its bytes are. */
static int
data_payload(struct wb_conn *c, const uint8_t *p, size_t n)
{
	uint64_t	 size = (uint64_t)opt.size, t;

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

/* Decode server frames; returns -1 once the connection is gone. */
static int
ws_feed(struct wb_conn *c, const uint8_t *p, size_t n)
{
	ssize_t	 k;

	while (n > 0) {
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

static void	mode_closed(struct wb_conn *);

static void
conn_drop(struct wb_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	free(c->obuf);
	free(c->hbuf);
	c->fd = -1;
	c->obuf = NULL;
	c->hbuf = NULL;
	c->events = 0;
	conn_set_state(c, WB_FREE);
}

static void
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
static int
conn_flush(struct wb_conn *c)
{
	ssize_t	 w;

	while (c->ooff < c->olen) {
		w = write(c->fd, c->obuf + c->ooff, c->olen - c->ooff);
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
	if (c->ooff == c->olen && c->ocap > WB_OBUF_KEEP) {
		free(c->obuf);
		c->obuf = NULL;
		c->ocap = c->olen = c->ooff = 0;
	}
	conn_events(c, EPOLLIN | (c->ooff < c->olen ? EPOLLOUT : 0));
	return 0;
}

/* Start a connection in slot c; failures are counted, not fatal. */
static void
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

/* Fires when a connection is readable: one read, decode, then write. */
static void
conn_read(struct wb_conn *c)
{
	ssize_t	 n;
	int	 rv;

	n = read(c->fd, rbuf, sizeof(rbuf));
	now = clock_ns();
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		conn_fail(c, "read: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		conn_eof(c);
		return;
	}
	if (c->state == WB_HANDSHAKE)
		rv = hs_feed(c, rbuf, (size_t)n);
	else if (opt.raw)
		rv = data_payload(c, rbuf, (size_t)n);
	else
		rv = ws_feed(c, rbuf, (size_t)n);
	if (rv == 0 && c->state != WB_FREE)
		conn_flush(c);
}

static void
conn_event(const struct epoll_event *ev)
{
	struct wb_conn	*c = &conns[(uint32_t)ev->data.u64];

	if (c->gen != (uint32_t)(ev->data.u64 >> 32) || c->state == WB_FREE)
		return;
	if (c->state == WB_CONNECTING) {
		conn_connected(c);
		return;
	}
	if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(c);
	if (c->state != WB_FREE && (ev->events & EPOLLOUT))
		conn_flush(c);
}

static void
check_deadlines(void)
{
	static uint64_t	 next;
	long		 i;

	if (now < next)
		return;
	next = now + WB_TICK;
	for (i = 0; i < nconns; i++)
		if (conns[i].state != WB_FREE && conns[i].deadline != 0 &&
		    now >= conns[i].deadline)
			conn_fail(&conns[i], "timeout (state %d)",
			    conns[i].state);
}

/* Connect mode: a loop whose session ended starts the next one. */
static void
restart_sessions(void)
{
	long	 i;

	if (opt.mode != WB_CONNECT || now >= t_end)
		return;
	for (i = 0; i < nconns; i++)
		if (conns[i].state == WB_FREE)
			conn_start(&conns[i]);
}

static void
loop_once(int timeout_ms)
{
	struct epoll_event	 evs[WB_MAX_EVENTS];
	int			 i, n;

	n = epoll_wait(epfd, evs, WB_MAX_EVENTS, timeout_ms);
	if (n == -1 && errno != EINTR)
		die("epoll_wait: %s", strerror(errno));
	now = clock_ns();
	for (i = 0; i < n; i++)
		conn_event(&evs[i]);
	check_deadlines();
	restart_sessions();
}

/* Run the loop until time t. */
static void
loop_until(uint64_t t)
{
	uint64_t	 ms;

	while (now < t) {
		ms = (t - now) / 1000000 + 1;
		loop_once(ms > 10 ? 10 : (int)ms);
	}
}

static void
mode_open(struct wb_conn *c)
{
	if (opt.mode == WB_CONNECT)
		queue_msg(c);
}

static void
session_done(struct wb_conn *c)
{
	hist_add(&lat, now - c->t0);
	nsessions++;
	t_last = now;
	conn_drop(c);
}

/* Fires for each message echoed in full, with its round trip. */
static void
mode_echoed(struct wb_conn *c, uint64_t rtt)
{
	switch (opt.mode) {
	case WB_ECHO:
		if (now >= t_end)
			return;
		nmsgs++;
		hist_add(&lat, rtt);
		queue_msg(c);
		break;
	case WB_CONNECT:
		if (opt.raw) {
			session_done(c);
			return;
		}
		queue_close(c);
		conn_set_state(c, WB_CLOSING);
		c->deadline = now + WB_CLOSE_TIMEOUT;
		break;
	default:
		nmsgs++;
		break;
	}
}

/* Fires at EOF after the closing handshake. */
static void
mode_closed(struct wb_conn *c)
{
	session_done(c);
}

static int
wait_open(long want, uint64_t until)
{
	while (nopen < want && nlive > nopen && now < until)
		loop_once(10);
	return nopen == want ? 0 : -1;
}

static void
open_all(long n)
{
	long	 i;

	for (i = 0; i < n; i++)
		conn_start(&conns[i]);
	if (wait_open(n, now + WB_OPEN_TIMEOUT + NSEC) == -1)
		fprintf(stderr, "wsbench: %ld of %ld connections open\n",
		    nopen, n);
	if (nopen == 0)
		die("no connection opened");
}

static const char *
mode_label(void)
{
	if (opt.raw)
		return "raw";
	return opt.binary ? "binary" : "text";
}

static void
print_latency(const char *mode, double secs, double rate,
    const char *unit)
{
	printf("%s: %lld conns x %lld x %lld B %s, %.1f s: %.0f %s/s, "
	    "%.1f MB/s, p50 %.0f us, p99 %.0f us, max %.0f us, errors %"
	    PRIu64 "\n", mode, opt.conns, opt.depth, opt.size, mode_label(),
	    secs, rate, unit, rate * (double)opt.size / 1e6,
	    hist_us(&lat, 0.5), hist_us(&lat, 0.99), hist_us(&lat, 1.0),
	    nerrors);
}

static void
run_echo(void)
{
	double	 secs, rate;
	long	 i, j;

	open_all(opt.conns);
	t_start = now;
	t_end = now + (uint64_t)opt.seconds * NSEC;
	for (i = 0; i < nconns; i++) {
		if (conns[i].state != WB_OPEN)
			continue;
		conns[i].verify = i % WB_VERIFY_EVERY == 0;
		for (j = 0; j < opt.depth; j++)
			queue_msg(&conns[i]);
		conn_flush(&conns[i]);
	}
	loop_until(t_end);
	secs = (double)(now - t_start) / 1e9;
	rate = (double)nmsgs / secs;
	print_latency(opt.raw ? "raw" : "echo", secs, rate, "msgs");
	printf("RESULT mode=%s conns=%lld depth=%lld size=%lld msgs_per_s=%.0f "
	    "mb_per_s=%.2f p50_us=%.0f p99_us=%.0f max_us=%.0f errors=%"
	    PRIu64 "\n", opt.raw ? "raw" : "echo", opt.conns, opt.depth,
	    opt.size, rate, rate * (double)opt.size / 1e6, hist_us(&lat, 0.5),
	    hist_us(&lat, 0.99), hist_us(&lat, 1.0), nerrors);
}

static void
run_connect(void)
{
	double	 secs, rate;
	long	 i;

	t_start = now;
	t_end = now + (uint64_t)opt.seconds * NSEC;
	for (i = 0; i < nconns; i++)
		conns[i].verify = true;
	restart_sessions();
	while (nlive > 0 && now < t_end + WB_GRACE)
		loop_once(10);
	if (nlive > 0)
		fprintf(stderr, "wsbench: %ld sessions unfinished\n", nlive);
	nerrors += (uint64_t)nlive;
	secs = (double)((t_last > t_start ? t_last : now) - t_start) / 1e9;
	rate = (double)nsessions / secs;
	printf("connect: %lld loops, %s, %.1f s: %" PRIu64 " sessions, "
	    "%.0f sessions/s, p50 %.0f us, p99 %.0f us, max %.0f us, "
	    "errors %" PRIu64 "\n", opt.conns, mode_label(), secs, nsessions,
	    rate, hist_us(&lat, 0.5), hist_us(&lat, 0.99), hist_us(&lat, 1.0),
	    nerrors);
	printf("RESULT mode=connect conns=%lld sessions=%" PRIu64
	    " sessions_per_s=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f "
	    "errors=%" PRIu64 "\n", opt.conns, nsessions, rate,
	    hist_us(&lat, 0.5), hist_us(&lat, 0.99), hist_us(&lat, 1.0),
	    nerrors);
}

static long
proc_rss_kb(long pid)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 kb = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static long
proc_ppid(long pid)
{
	char	 path[64], line[512], *p;
	FILE	*f;
	long	 ppid = -1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	/* The command name may hold spaces and parentheses: skip to the last. */
	if (fgets(line, sizeof(line), f) != NULL &&
	    (p = strrchr(line, ')')) != NULL)
		(void)sscanf(p + 1, " %*c %ld", &ppid);
	fclose(f);
	return ppid;
}

static bool
pid_in(const long *set, size_t n, long pid)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (set[i] == pid)
			return true;
	return false;
}

/* Every process with its parent, read from /proc; returns the count. */
static size_t
proc_list(long **pids, long **ppids)
{
	struct dirent	*d;
	DIR		*dir;
	size_t		 n = 0, cap = 0;

	*pids = *ppids = NULL;
	if ((dir = opendir("/proc")) == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			*pids = realloc(*pids, cap * sizeof(**pids));
			*ppids = realloc(*ppids, cap * sizeof(**ppids));
			if (*pids == NULL || *ppids == NULL)
				die("out of memory");
		}
		(*pids)[n] = atol(d->d_name);
		(*ppids)[n++] = proc_ppid(atol(d->d_name));
	}
	closedir(dir);
	return n;
}

/*
 * RSS of pid and all its descendants (websocketd's and websockify's
 * per-connection processes).  Sets are plain arrays: a few thousand
 * processes at most, read twice per run.
 */
static long
tree_rss_kb(long root)
{
	long	*pids, *pp, *set, kb = 0, r;
	size_t	 n, ns = 1, i, before;

	n = proc_list(&pids, &pp);
	if ((set = malloc((n + 1) * sizeof(*set))) == NULL)
		die("out of memory");
	set[0] = root;
	do {
		before = ns;
		for (i = 0; i < n; i++)
			if (!pid_in(set, ns, pids[i]) && pid_in(set, ns, pp[i]))
				set[ns++] = pids[i];
	} while (ns != before);
	for (i = 0; i < ns; i++)
		if ((r = proc_rss_kb(set[i])) > 0)
			kb += r;
	free(pids);
	free(pp);
	free(set);
	return kb;
}

/* Idle: open at a bounded rate, at most WB_IDLE_PENDING handshakes at once. */
static void
idle_open(void)
{
	uint64_t	 until = now + (uint64_t)opt.count * NSEC /
	    (uint64_t)opt.rate + 30 * NSEC;
	long		 next = 0, allowed;

	t_start = now;
	while (now < until && (next < nconns || nlive > nopen)) {
		allowed = (long)((now - t_start) * (uint64_t)opt.rate / NSEC)
		    + 1;
		while (next < nconns && next < allowed &&
		    nlive - nopen < WB_IDLE_PENDING)
			conn_start(&conns[next++]);
		loop_once(1);
	}
	printf("idle: %ld of %lld connections open after %.1f s\n", nopen,
	    opt.count, (double)(now - t_start) / 1e9);
}

/* Idle: a sample of the held connections must still echo. */
static long
idle_sample(void)
{
	long	 i, step, picked = 0;

	step = nconns / opt.sample > 0 ? nconns / opt.sample : 1;
	for (i = 0; i < nconns && picked < opt.sample; i += step) {
		if (conns[i].state != WB_OPEN)
			continue;
		conns[i].verify = true;
		queue_msg(&conns[i]);
		conn_flush(&conns[i]);
		picked++;
	}
	t_end = now + WB_SAMPLE_WAIT;
	while ((long)nmsgs < picked && now < t_end)
		loop_once(10);
	return picked;
}

static void
run_idle(void)
{
	long	 base, tbase, rss, trss, open, picked;
	double	 per, tper;

	if ((base = proc_rss_kb(opt.pid)) < 0)
		die("no process %lld", opt.pid);
	tbase = tree_rss_kb(opt.pid);
	idle_open();
	loop_until(now + WB_SETTLE);
	open = nopen;
	rss = proc_rss_kb(opt.pid);
	trss = tree_rss_kb(opt.pid);
	picked = idle_sample();
	per = open ? (double)(rss - base) * 1024 / (double)open : 0;
	tper = open ? (double)(trss - tbase) * 1024 / (double)open : 0;
	if (open < opt.count || (long)nmsgs < picked || picked < opt.sample)
		nerrors++;
	printf("idle: %ld conns held, RSS %ld -> %ld KiB (%.0f B/conn), "
	    "with children %ld -> %ld KiB (%.0f B/conn), echo %" PRIu64
	    "/%ld, errors %" PRIu64 "\n", open, base, rss, per, tbase, trss,
	    tper, nmsgs, picked, nerrors);
	printf("RESULT mode=idle conns=%lld open=%ld rss_base_kb=%ld "
	    "rss_kb=%ld bytes_per_conn=%.0f tree_base_kb=%ld tree_kb=%ld "
	    "tree_bytes_per_conn=%.0f echo_ok=%" PRIu64 " sample=%ld "
	    "errors=%" PRIu64 "\n", opt.count, open, base, rss, per, tbase,
	    trss, tper, nmsgs, picked, nerrors);
}

/* Large: one message per round; the first round's echo is compared. */
static uint64_t
large_round(struct wb_conn *c, long r, uint64_t until)
{
	uint64_t	 t0;

	c->verify = r == 0;
	queue_msg(c);
	/* The frame is built before the clock starts: time the server. */
	now = t0 = clock_ns();
	if (conn_flush(c) == -1)
		return 0;
	while (c->state == WB_OPEN && c->done < (uint64_t)r + 1 && now < until)
		loop_once(10);
	if (c->state != WB_OPEN || c->done < (uint64_t)r + 1) {
		if (c->state == WB_OPEN)
			conn_fail(c, "large: round %ld timed out", r);
		return 0;
	}
	return now - t0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Large: the median round, so the first (page faults, checks) counts less. */
static void
run_large(void)
{
	uint64_t	*t, until;
	long		 r, done = 0;
	double		 mb = (double)opt.size / 1e6, med = 0, best = 0;

	if ((t = calloc((size_t)opt.count, sizeof(*t))) == NULL)
		die("out of memory");
	open_all(1);
	until = now + (uint64_t)opt.seconds * NSEC;
	for (r = 0; r < opt.count; r++) {
		if ((t[r] = large_round(&conns[0], r, until)) == 0)
			break;
		done++;
	}
	if (done > 0) {
		qsort(t, (size_t)done, sizeof(*t), cmp_u64);
		med = mb / ((double)t[done / 2] / 1e9);
		best = mb / ((double)t[0] / 1e9);
	}
	printf("large: %ld x %lld B %s: %.0f MB/s median round (best %.0f "
	    "MB/s), errors %" PRIu64 "\n", done, opt.size, mode_label(), med,
	    best, nerrors);
	printf("RESULT mode=large size=%lld rounds=%ld mb_per_s=%.0f "
	    "best_mb_per_s=%.0f errors=%" PRIu64 "\n", opt.size, done, med,
	    best, nerrors);
	free(t);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: wsbench echo|connect|idle|large|raw --port N [options]\n"
	    "  --host ADDR     127.0.0.0/8 or ::1 only (default 127.0.0.1)\n"
	    "  --path PATH     request path (default /)\n"
	    "  --conns C       connections or loops (echo 100, connect 10)\n"
	    "  --depth D       messages in flight per connection (16)\n"
	    "  --size S        message bytes, K/M suffix (64; large 16M)\n"
	    "  --seconds T     measuring time; large: time limit (5; 30)\n"
	    "  --binary        binary messages (text: lengths checked)\n"
	    "  --raw           plain TCP, no WebSocket (mode raw = echo)\n"
	    "  --pid P         idle: server whose RSS is read\n"
	    "  --count N       idle: connections (1000); large: rounds (1)\n"
	    "  --rate R        idle: connections opened per second (2000)\n"
	    "  --sample K      idle: held connections checked to echo (50)\n");
	exit(2);
}

static long long
parse_num(const char *s, long long min, long long max, const char *what)
{
	char		*end;
	long long	 v, mult = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end != s && end[0] != '\0' && end[1] == '\0') {
		if (*end == 'K' || *end == 'k')
			mult = 1024;
		else if (*end == 'M' || *end == 'm')
			mult = 1024 * 1024;
		end += mult > 1;
	}
	if (errno != 0 || end == s || *end != '\0' || v < min ||
	    v > max / mult || v * mult > max)
		die("%s: %s: not a number from %lld to %lld", what, s, min,
		    max);
	return v * mult;
}

static void
parse_mode(const char *m)
{
	if (strcmp(m, "echo") == 0)
		opt.mode = WB_ECHO;
	else if (strcmp(m, "raw") == 0) {
		opt.mode = WB_ECHO;
		opt.raw = 1;
	} else if (strcmp(m, "connect") == 0)
		opt.mode = WB_CONNECT;
	else if (strcmp(m, "idle") == 0)
		opt.mode = WB_IDLE;
	else if (strcmp(m, "large") == 0)
		opt.mode = WB_LARGE;
	else
		usage();
}

/* Numeric options, checked in full; each bounds the run. */
static const struct wb_numopt {
	const char	*name;
	long long	*val;
	long long	 min, max;
} numopts[] = {
	{ "port",	&opt.port,	1, 65535 },
	{ "conns",	&opt.conns,	1, WB_MAX_CONNS },
	{ "depth",	&opt.depth,	1, WB_MAX_DEPTH },
	{ "size",	&opt.size,	1, WB_MAX_SIZE },
	{ "seconds",	&opt.seconds,	1, WB_MAX_SECONDS },
	{ "pid",	&opt.pid,	1, INT32_MAX },
	{ "count",	&opt.count,	1, WB_MAX_CONNS },
	{ "rate",	&opt.rate,	1, WB_MAX_RATE },
	{ "sample",	&opt.sample,	1, 1000 },
};
#define WB_NUMOPTS	(sizeof(numopts) / sizeof(numopts[0]))
#define WB_OPT_NUM	256	/* getopt value of numopts[0] */

static void
parse_opts(int argc, char *argv[])
{
	struct option	 lo[WB_NUMOPTS + 5] = {
		{ "host", required_argument, NULL, 'h' },
		{ "path", required_argument, NULL, 'P' },
		{ "binary", no_argument, &opt.binary, 1 },
		{ "raw", no_argument, &opt.raw, 1 },
	};
	size_t		 i;
	int		 ch;

	for (i = 0; i < WB_NUMOPTS; i++) {
		lo[4 + i].name = numopts[i].name;
		lo[4 + i].has_arg = required_argument;
		lo[4 + i].val = WB_OPT_NUM + (int)i;
	}
	if (argc < 2)
		usage();
	parse_mode(argv[1]);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch >= WB_OPT_NUM) {
			i = (size_t)(ch - WB_OPT_NUM);
			*numopts[i].val = parse_num(optarg, numopts[i].min,
			    numopts[i].max, numopts[i].name);
		} else if (ch == 'h')
			opt.host = optarg;
		else if (ch == 'P')
			opt.path = optarg;
		else if (ch != 0)
			usage();
	}
	if (optind != argc || opt.port == 0)
		usage();
}

/* Defaults that depend on the mode, and what each mode fixes. */
static void
fix_opts(void)
{
	bool	 large = opt.mode == WB_LARGE;

	if (opt.host == NULL)
		opt.host = "127.0.0.1";
	if (opt.path == NULL)
		opt.path = "/";
	if (opt.size == 0)
		opt.size = large ? 16 * 1024 * 1024 : 64;
	if (opt.seconds == 0)
		opt.seconds = large ? 30 : 5;
	if (opt.count == 0)
		opt.count = opt.mode == WB_IDLE ? 1000 : 1;
	if (opt.rate == 0)
		opt.rate = 2000;
	if (opt.sample == 0)
		opt.sample = 50;
	if (opt.conns == 0)
		opt.conns = opt.mode == WB_CONNECT ? 10 : 100;
	if (opt.depth == 0)
		opt.depth = opt.mode == WB_ECHO ? 16 : 1;
	if (opt.mode != WB_ECHO)
		opt.depth = 1;
	if (large)
		opt.conns = 1;
	if (large || opt.raw)
		opt.binary = true;
	if (opt.mode == WB_IDLE)
		opt.conns = opt.count;
}

/* Loopback only: this tool floods whatever it is pointed at. */
static void
resolve(void)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&addr;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&addr;
	const char		*h = opt.host;

	if (strcmp(h, "localhost") == 0)
		h = "127.0.0.1";
	memset(&addr, 0, sizeof(addr));
	if (inet_pton(AF_INET, h, &sin->sin_addr) == 1) {
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			die("refusing non-loopback host %s", opt.host);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(opt.port);
		addrlen = sizeof(*sin);
		snprintf(hostport, sizeof(hostport), "%s:%lld", h, opt.port);
	} else if (inet_pton(AF_INET6, h, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			die("refusing non-loopback host %s", opt.host);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(opt.port);
		addrlen = sizeof(*sin6);
		snprintf(hostport, sizeof(hostport), "[%s]:%lld", h, opt.port);
	} else
		die("host must be a loopback address: %s", opt.host);
}

static void
setup(void)
{
	struct rlimit	 rl;
	long		 i;

	signal(SIGPIPE, SIG_IGN);
	/* Idle mode holds thousands of sockets. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((epfd = epoll_create1(0)) == -1)
		die("epoll_create1: %s", strerror(errno));
	rng ^= (uint32_t)getpid() ^ (uint32_t)clock_ns();
	pattern_init((size_t)opt.size > WB_READ_SIZE ? (size_t)opt.size :
	    WB_READ_SIZE);
	nconns = opt.conns;
	if ((conns = calloc((size_t)nconns, sizeof(*conns))) == NULL)
		die("out of memory");
	for (i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		conns[i].ts = calloc((size_t)opt.depth, sizeof(uint64_t));
		if (conns[i].ts == NULL)
			die("out of memory");
	}
	now = clock_ns();
}

int
main(int argc, char *argv[])
{
	parse_opts(argc, argv);
	fix_opts();
	resolve();
	if (opt.mode == WB_IDLE && opt.pid == 0)
		die("idle mode needs --pid");
	setup();
	switch (opt.mode) {
	case WB_ECHO:
		run_echo();
		break;
	case WB_CONNECT:
		run_connect();
		break;
	case WB_IDLE:
		run_idle();
		break;
	case WB_LARGE:
		run_large();
		break;
	}
	fflush(stdout);
	return nerrors ? 1 : 0;
}

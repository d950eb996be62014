/*
 * wsbench.h: what the load client's files share: limits, the connection
 * slot, options, globals and the functions each file offers the others.
 */

#ifndef WSBENCH_H
#define WSBENCH_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct epoll_event;
struct ssl_st;

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
#define WB_SEQ_LEN		16	/* fanout: hex line number, tests/bench/lines.c */
#define WB_LINE_MAX		4096	/* fanout: longest line */
#define WB_FIRST_WAIT		(10 * NSEC)	/* fanout: for every first line */

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
	WB_FANOUT,
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
	struct ssl_st	*ssl;		/* --tls */
	bool		 tcp_up;	/* connected; TLS handshake next */
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
	bool		 stopped;	/* fanout: never reads */
	bool		 seq_known;	/* fanout: lseq holds a line number */
	uint64_t	 lseq;		/* fanout: the last line's number */
	uint64_t	 win;		/* fanout: lines in the measured window */
	char		*line;		/* fanout: the line so far (verify) */
	size_t		 linelen;
};

/* Log-linear histogram of nanoseconds: 32 steps per power of two (3%). */
struct hist {
	uint64_t	 n;
	uint64_t	 max;
	uint64_t	 b[WB_HIST_BUCKETS];
};

struct wb_opts {
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
	long long	 stopped;
	int		 binary;
	int		 raw;
	int		 tls;
	int		 resume;
};

extern struct wb_opts		 opt;
extern struct sockaddr_storage	 addr;
extern socklen_t		 addrlen;
extern char			 hostport[128];
extern int			 epfd;
extern struct wb_conn		*conns;
extern uint64_t			 now;
extern long			 nlive;
extern long			 nopen;
extern uint64_t			 nerrors;
extern uint32_t			 rng;

/* wsbench.c */
void		 die(const char *, ...);
uint64_t	 clock_ns(void);
void		 mode_open(struct wb_conn *);
void		 mode_echoed(struct wb_conn *, uint64_t);
void		 mode_closed(struct wb_conn *);
void		 mode_lines(struct wb_conn *, uint64_t);

/* wsb_conn.c */
uint32_t	 rand32(void);
void		 pattern_init(size_t);
void		 conn_set_state(struct wb_conn *, enum wb_state);
void		 queue_msg(struct wb_conn *);
void		 queue_close(struct wb_conn *);
void		 conn_drop(struct wb_conn *);
void		 conn_fail(struct wb_conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
int		 conn_flush(struct wb_conn *);
void		 conn_start(struct wb_conn *);
void		 conn_event(const struct epoll_event *);

/* wsb_tls.c */
extern uint64_t	 wtls_offered, wtls_resumed;
void		 wtls_setup(void);
int		 wtls_start(struct wb_conn *);
int		 wtls_handshake(struct wb_conn *, uint32_t *);
ssize_t		 wtls_read(struct wb_conn *, void *, size_t);
ssize_t		 wtls_write(struct wb_conn *, const void *, size_t);
void		 wtls_free(struct wb_conn *);

/* wsb_stats.c */
void		 hist_add(struct hist *, uint64_t);
double		 hist_us(const struct hist *, double);
long		 proc_rss_kb(long);
long		 tree_rss_kb(long);
long long	 tree_cpu_ticks(long);
long long	 proc_cpu_ticks(long);

#endif /* WSBENCH_H */

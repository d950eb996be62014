/*
 * Listening sockets and the accept watcher. Accepting pauses for a
 * moment when descriptors run out instead of spinning on EMFILE.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netdb.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "listener.h"
#include "log.h"
#include "net.h"

#define LISTENER_BACKLOG	1024
#define LISTENER_ACCEPT_BURST	64
#define LISTENER_EMFILE_PAUSE	0.1	/* seconds */

static struct listener	*listeners;
static int		 listener_workers = 1;	/* from the config: 0 auto */

/*
 * Unix sockets bound by the supervisor before workers fork: a path can
 * be bound only once, so every worker accepts on the same socket.
 */
struct listener_shared {
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	int			 fd;
};
static struct listener_shared	*shared;
static size_t			 nshared;
static bool			 sharing;	/* workers: the set is fixed */

bool
listener_is_tls(const struct listener *l)
{
	return l != NULL && l->spec.tls;
}

static void
listener_free(struct listener *l)
{
	free(l->spec.spec);
	free(l);
}

void
listener_conn_closed(struct listener *l)
{
	if (l != NULL && --l->refs == 0 && l->closed)
		listener_free(l);
}

static void
listener_close(struct listener *l)
{
	ev_io_stop(server.loop, &l->io);
	ev_timer_stop(server.loop, &l->pause);
	if (l->fd != -1)
		close(l->fd);
	/* A unix socket we bound goes with us (not a worker's shared one). */
	if (l->owns_path)
		unlink(((struct sockaddr_un *)&l->spec.addr)->sun_path);
	l->owns_path = false;
	l->fd = -1;
	l->closed = true;
	if (l->refs == 0)
		listener_free(l);
}

/* Fires after an EMFILE pause: try accepting again. */
static void
listener_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct listener	*l = w->data;

	(void)revents;
	if (l->fd != -1)
		ev_io_start(loop, &l->io);
}

static void
listener_pause(struct listener *l)
{
	static ev_tstamp	 last_logged;

	if (ev_now(server.loop) - last_logged > 10.) {
		log_warn("listener %s: accept paused", l->spec.spec);
		last_logged = ev_now(server.loop);
	}
	ev_io_stop(server.loop, &l->io);
	ev_timer_set(&l->pause, LISTENER_EMFILE_PAUSE, 0.);
	ev_timer_start(server.loop, &l->pause);
}

/* Fires when connections wait in the backlog: accept a burst of them. */
static void
listener_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener		*l = w->data;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, i;

	(void)loop, (void)revents;
	for (i = 0; i < LISTENER_ACCEPT_BURST; i++) {
		len = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				listener_pause(l);
			else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("listener %s: accept", l->spec.spec);
			return;
		}
		l->refs++;
		conn_accept(fd, (struct sockaddr *)&ss, len, l);
	}
}

/* The supervisor's socket for this address, or NULL. */
static const struct listener_shared *
listener_shared_find(const struct listen_spec *spec)
{
	size_t	 i;

	for (i = 0; i < nshared; i++)
		if (shared[i].addrlen == spec->addrlen &&
		    memcmp(&shared[i].addr, &spec->addr, spec->addrlen) == 0)
			return &shared[i];
	return NULL;
}

/* A copy of the supervisor's socket for this address, or -1. */
static int
listener_shared_fd(const struct listen_spec *spec)
{
	const struct listener_shared	*s = listener_shared_find(spec);

	return s == NULL ? -1 : fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
}

/* A clickable address: "http://127.0.0.1:8080/", "https://[::1]:8443/". */
static void
listener_url(const struct listen_spec *spec, const char *path, char *buf,
    size_t len)
{
	char	 host[INET6_ADDRSTRLEN], port[8];

	if (spec->addr.ss_family == AF_UNIX || getnameinfo(
	    (const struct sockaddr *)&spec->addr, spec->addrlen, host,
	    sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "%s", spec->spec);
		return;
	}
	snprintf(buf, len, "%s://%s%s%s:%s%s", spec->tls ? "https" : "http",
	    spec->addr.ss_family == AF_INET6 ? "[" : "", host,
	    spec->addr.ss_family == AF_INET6 ? "]" : "", port, path);
}

static bool
listener_wildcard(const struct listen_spec *spec)
{
	const struct sockaddr_in	*sin = (const void *)&spec->addr;
	const struct sockaddr_in6	*sin6 = (const void *)&spec->addr;

	if (spec->addr.ss_family == AF_INET)
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	return spec->addr.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

/*
 * One start-up line per listener, as websocketd and websockify print
 * theirs: where to point a browser, and what is served there.
 */
static void
listener_announce(const struct listen_spec *spec, const struct config *cfg,
    bool metrics_only)
{
	char	 url[300], what[1024];
	size_t	 i, o = 0;

	listener_url(spec, metrics_only ? cfg->metrics_path : "/", url,
	    sizeof(url));
	what[0] = '\0';
	for (i = 0; i < cfg->nroutes && !metrics_only && o < sizeof(what); i++)
		o += (size_t)snprintf(what + o, sizeof(what) - o, "%s%s",
		    i == 0 ? ", routes " : " ", cfg->routes[i]->label);
	if (!metrics_only && cfg->static_dir != NULL && o < sizeof(what))
		o += (size_t)snprintf(what + o, sizeof(what) - o,
		    ", static files from %s", cfg->static_dir);
	if (!metrics_only && cfg->metrics_path != NULL &&
	    cfg->metrics_listen == NULL && o < sizeof(what))
		snprintf(what + o, sizeof(what) - o, ", metrics %s",
		    cfg->metrics_path);
	if (spec->redirect_port > 0)
		snprintf(what, sizeof(what), ", redirects to port %d",
		    spec->redirect_port);
	log_info("listening on %s%s%s%s", url, listener_wildcard(spec) ?
	    (spec->addr.ss_family == AF_INET ? " (all IPv4 interfaces)" :
	    " (all IPv6 interfaces)") : "", metrics_only ? " (metrics only)" : "",
	    what);
}

static struct listener *
listener_alloc(const struct listen_spec *spec, int fd, bool owns)
{
	struct listener	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("calloc");
	l->fd = fd;
	l->owns_path = owns;
	l->spec = *spec;
	if ((l->spec.spec = strdup(spec->spec)) == NULL)
		fatal("strdup");
	ev_io_init(&l->io, listener_accept_cb, fd, EV_READ);
	ev_init(&l->pause, listener_resume_cb);
	l->io.data = l->pause.data = l;
	return l;
}

static struct listener *
listener_open(const struct listen_spec *spec)
{
	struct listener	*l;
	char		 err[256];
	int		 fd;
	bool		 owns = false;

	if ((fd = listener_shared_fd(spec)) == -1) {
		fd = net_listen((const struct sockaddr *)&spec->addr,
		    spec->addrlen, LISTENER_BACKLOG, listener_workers != 1,
		    err, sizeof(err));
		if (fd == -1) {
			log_error("listen %s: %s", spec->spec, err);
			return NULL;
		}
		owns = spec->addr.ss_family == AF_UNIX;
	}
	l = listener_alloc(spec, fd, owns);
	ev_io_start(server.loop, &l->io);
	return l;
}

/*
 * Reload commit: l, the new declaration, takes old's bound socket. The
 * old one is retired: its open connections keep the role they came in
 * with (TLS or not, metrics or routes), new ones get l's.
 */
static void
listener_take(struct listener *l, struct listener *old)
{
	l->fd = old->fd;
	l->owns_path = old->owns_path;
	old->fd = -1;
	old->owns_path = false;
	ev_io_set(&l->io, l->fd, EV_READ);
	ev_io_start(server.loop, &l->io);
	/* Unchanged: no new start-up line; changed: announced afresh. */
	l->announced = l->spec.tls == old->spec.tls && l->metrics_only ==
	    old->metrics_only && l->spec.proxy_protocol ==
	    old->spec.proxy_protocol && old->announced;
}

static struct listener *
listener_find(const struct listen_spec *spec)
{
	struct listener	*l;

	for (l = listeners; l != NULL; l = l->next)
		if (!l->seen && l->spec.addrlen == spec->addrlen &&
		    memcmp(&l->spec.addr, &spec->addr, spec->addrlen) == 0)
			return l;
	return NULL;
}

/* metrics_listen as a listener of its own, serving only metrics_path. */
static bool
listener_metrics_spec(const struct config *cfg, struct listen_spec *ms)
{
	if (cfg->metrics_listen == NULL || cfg->metrics_path == NULL)
		return false;
	memset(ms, 0, sizeof(*ms));
	ms->spec = cfg->metrics_listen;
	ms->addr = cfg->metrics_addr;
	ms->addrlen = cfg->metrics_addrlen;
	return true;
}

bool
listeners_unix_unchanged(const struct config *cfg)
{
	const struct listen_spec	*spec;
	size_t				 i, n = 0;

	if (!sharing)
		return true;
	for (i = 0; i < cfg->nlistens; i++) {
		spec = &cfg->listens[i];
		if (spec->addr.ss_family != AF_UNIX)
			continue;
		n++;
		if (listener_shared_find(spec) == NULL)
			return false;
	}
	return n == nshared;
}

/*
 * A listener whose address stays is declared anew on its bound socket:
 * every property (TLS, PROXY, metrics only) follows the new config.
 */
int
listeners_sync(const struct config *cfg)
{
	struct listener		*l, *old, *next, *fresh = NULL, **tail = &fresh;
	struct listen_spec	 ms, *spec;
	size_t			 i;

	/* Workers accept on the supervisor's unix sockets: a fixed set. */
	if (!listeners_unix_unchanged(cfg)) {
		log_error("unix listeners changed: with several workers that "
		    "needs a restart");
		return -1;
	}
	listener_workers = cfg->workers;
	for (i = 0; i <= cfg->nlistens; i++) {
		if (i == cfg->nlistens && !listener_metrics_spec(cfg, &ms))
			break;
		spec = i < cfg->nlistens ? &cfg->listens[i] : &ms;
		if ((old = listener_find(spec)) != NULL) {
			old->seen = true;
			l = listener_alloc(spec, -1, false);
			l->from = old;	/* its socket is taken at commit */
		} else if ((l = listener_open(spec)) == NULL)
			goto fail;
		l->metrics_only = spec == &ms;
		*tail = l;
		tail = &l->next;
	}
	/* Commit: move kept sockets over, close the rest. */
	for (l = fresh; l != NULL; l = l->next)
		if (l->from != NULL) {
			listener_take(l, l->from);
			l->from = NULL;
		}
	for (l = listeners; l != NULL; l = next) {
		next = l->next;
		if (!l->seen)
			log_info("closing listener %s", l->spec.spec);
		listener_close(l);
	}
	listeners = fresh;
	/* Only now: a listener that failed to bind undoes the others. */
	for (l = listeners; l != NULL; l = l->next)
		if (!l->announced) {
			listener_announce(&l->spec, cfg, l->metrics_only);
			l->announced = true;
		}
	return 0;
fail:
	for (l = fresh; l != NULL; l = next) {
		next = l->next;
		listener_close(l);
	}
	for (l = listeners; l != NULL; l = l->next)
		l->seen = false;
	return -1;
}

int
listeners_check(const struct config *cfg, FILE *errfp)
{
	const struct listen_spec	*spec;
	struct listen_spec		 ms;
	char				 err[256];
	size_t				 i;
	int				 n = 0;

	for (i = 0; i <= cfg->nlistens; i++) {
		if (i == cfg->nlistens && !listener_metrics_spec(cfg, &ms))
			break;
		spec = i < cfg->nlistens ? &cfg->listens[i] : &ms;
		switch (net_try_bind((const struct sockaddr *)&spec->addr,
		    spec->addrlen, cfg->workers != 1, err, sizeof(err))) {
		case 1:
			/* A running wsbridge holds its own ports: not an error. */
			fprintf(errfp, "wsbridge: warning: listen %s: %s (fine "
			    "if it is this wsbridge, running)\n", spec->spec,
			    err);
			break;
		case -1:
			fprintf(errfp, "wsbridge: listen %s: %s\n", spec->spec,
			    err);
			n++;
			break;
		}
	}
	return n;
}

void
listeners_close_all(void)
{
	struct listener	*l, *next;

	for (l = listeners; l != NULL; l = next) {
		next = l->next;
		listener_close(l);
	}
	listeners = NULL;
}

int
listeners_share_unix(const struct config *cfg)
{
	const struct listen_spec	*spec;
	char				 err[256];
	size_t				 i;
	int				 fd;

	sharing = true;
	for (i = 0; i < cfg->nlistens; i++) {
		spec = &cfg->listens[i];
		if (spec->addr.ss_family != AF_UNIX)
			continue;
		fd = net_listen((const struct sockaddr *)&spec->addr,
		    spec->addrlen, LISTENER_BACKLOG, false, err, sizeof(err));
		if (fd == -1) {
			log_error("listen %s: %s", spec->spec, err);
			listeners_unshare_unix();
			return -1;
		}
		if ((shared = reallocarray(shared, nshared + 1,
		    sizeof(*shared))) == NULL)
			fatal("reallocarray");
		memcpy(&shared[nshared].addr, &spec->addr, spec->addrlen);
		shared[nshared].addrlen = spec->addrlen;
		shared[nshared++].fd = fd;
	}
	return 0;
}

void
listeners_unshare_unix(void)
{
	size_t	 i;

	for (i = 0; i < nshared; i++) {
		close(shared[i].fd);
		unlink(((struct sockaddr_un *)&shared[i].addr)->sun_path);
	}
	free(shared);
	shared = NULL;
	nshared = 0;
	sharing = false;
}

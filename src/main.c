/*
 * wsbridge: options, start-up checks, signals and the event loop.
 */
#include <sys/prctl.h>

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "backend.h"
#include "config.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "options.h"
#include "notify.h"
#include "privs.h"
#include "tls.h"
#include "worker.h"
#include "record.h"
#include "version.h"

static int	 main_argc;
static char	**main_argv;
static ev_timer	 shutdown_timer;
static struct config	*main_cfg;
static bool		 main_is_worker;	/* under a supervisor */

/* A TLS context when a listener needs one; NULL and err otherwise. */
static int
main_tls(const struct config *cfg, struct tls_ctx **ctx, char *err,
    size_t errsz)
{
	size_t	 i;

	*ctx = NULL;
	for (i = 0; i < cfg->nlistens; i++)
		if (cfg->listens[i].tls)
			break;
	if (i == cfg->nlistens)
		return 0;
	return (*ctx = tls_ctx_new(cfg, err, errsz)) == NULL ? -1 : 0;
}

/* Fires at shutdown_timeout: whatever is left is killed. */
static void
main_shutdown_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c;

	(void)w, (void)revents;
	log_warnx("shutdown timeout: killing what is left");
	backend_proc_kill_all();
	while ((c = TAILQ_FIRST(&server.conns)) != NULL)
		conn_close(c, "shutdown timeout");
	ev_break(loop, EVBREAK_ALL);
}

/* SIGTERM/SIGINT: stop accepting, Close 1001 to all, then exit. */
static void
main_stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	if (server.stopping)
		return;
	log_info("signal %d: shutting down", w->signum);
	if (!main_is_worker)
		notify_stopping();
	listeners_close_all();
	conn_shutdown_all();
	ev_timer_init(&shutdown_timer, main_shutdown_timeout_cb,
	    server.cref->cfg->shutdown_timeout_ms / 1000., 0.);
	ev_timer_start(loop, &shutdown_timer);
}

/*
 * Other errors were found: still load the certificates (when their files
 * are there; missing ones are reported already), so that one run shows
 * every error.
 */
static void
main_tls_report(const struct config *cfg)
{
	struct tls_ctx	*tls;
	char		 err[512];

	if (cfg->tls_cert == NULL || cfg->tls_key == NULL ||
	    access(cfg->tls_cert, R_OK) == -1 ||
	    access(cfg->tls_key, R_OK) == -1 || (cfg->tls_client_ca != NULL &&
	    access(cfg->tls_client_ca, R_OK) == -1))
		return;
	if (main_tls(cfg, &tls, err, sizeof(err)) == -1)
		fprintf(stderr, "wsbridge: tls: %s\n", err);
	else
		tls_ctx_free(tls);
}

/* config_exposed() to the log (start-up, reload). */
static void
main_exposed_log(const char *msg, void *arg)
{
	(void)arg;
	log_warnx("%s", msg);
}

/* config_exposed() for --check, which prints instead of logging. */
static void
main_exposed_print(const char *msg, void *arg)
{
	fprintf(arg, "wsbridge: warning: %s\n", msg);
}

/* Build and check a config from the command line (and file). */
static struct config *
main_load_config_to(struct options *opts, int *rv, FILE *errfp)
{
	struct config	*cfg = NULL;

	*rv = options_parse(main_argc, main_argv, opts, &cfg, errfp);
	if (*rv != 0 || cfg == NULL)
		return NULL;
	if (config_finish(cfg, errfp) != 0) {
		if (errfp == stderr)
			main_tls_report(cfg);
		config_free(cfg);
		*rv = 1;
		return NULL;
	}
	return cfg;
}

static struct config *
main_load_config(struct options *opts, int *rv)
{
	return main_load_config_to(opts, rv, stderr);
}

/*
 * SIGHUP in the supervisor: keep the newest good configuration, so that
 * a worker restarted after a crash serves what the others serve. The
 * workers report the errors; here they are not repeated.
 */
static void
main_supervisor_reload(void)
{
	struct options	 opts;
	struct config	*cfg;
	struct tls_ctx	*tls;
	char		 err[512];
	FILE		*quiet;
	int		 rv;

	/* before the workers hear SIGHUP: they all seal with the new key */
	tls_keys_rotate();
	if ((quiet = fopen("/dev/null", "w")) == NULL)
		return;
	cfg = main_load_config_to(&opts, &rv, quiet);
	fclose(quiet);
	if (cfg == NULL)
		return;
	if (!listeners_unix_unchanged(cfg) ||
	    main_tls(cfg, &tls, err, sizeof(err)) == -1) {
		config_free(cfg);
		return;
	}
	tls_ctx_free(tls);
	config_free(main_cfg);
	main_cfg = cfg;
}

static void	main_reload(void);

/* SIGHUP: new config for new connections; a bad one keeps the old. */
static void
main_reload_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	if (server.stopping)
		return;
	log_info("SIGHUP: reloading configuration");
	if (!main_is_worker)
		notify_reloading();
	main_reload();
	if (!main_is_worker)
		notify_ready();
}

/* Every route has its metrics series from the start, at zero. */
static void
main_metrics_routes(const struct config *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg->nroutes; i++)
		metrics_route_declare(cfg->routes[i]->label);
}

/* Load, check and swap in the new configuration, or keep the old. */
static void
main_reload(void)
{
	struct options	 opts;
	struct config	*cfg;
	struct tls_ctx	*tls;
	char		 err[512];
	int		 rv;

	/* SIGHUP rotates the ticket key; a supervisor does it for all. */
	if (!main_is_worker)
		tls_keys_rotate();
	if ((cfg = main_load_config(&opts, &rv)) == NULL) {
		log_error("reload failed; keeping the running configuration");
		return;
	}
	if (main_tls(cfg, &tls, err, sizeof(err)) == -1) {
		log_error("reload: tls: %s; keeping the running "
		    "configuration", err);
		config_free(cfg);
		return;
	}
	if (listeners_sync(cfg) == -1) {
		log_error("reload: listeners failed; keeping the running "
		    "configuration");
		tls_ctx_free(tls);
		config_free(cfg);
		return;
	}
	/* Open connections keep the context and config they started with. */
	if (server.tls != NULL)
		tls_ctx_free(server.tls);
	server.tls = tls;
	config_ref_put(server.cref);
	server.cref = config_ref_new(cfg);
	main_metrics_routes(cfg);
	log_set_level(cfg->log_level);
	log_info("configuration reloaded: %zu routes", cfg->nroutes);
	config_exposed(cfg, main_exposed_log, NULL);
}

/* SIGUSR1: reopen the log file after rotation. */
static void
main_reopen_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	if (log_reopen() == -1)
		log_warn("reopen log");
	record_reopen();
}

static bool
main_spawns(const struct config *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg->nroutes; i++)
		if (backend_route_spawns(cfg->routes[i]))
			return true;
	return false;
}

/* Bind, drop privileges, then serve until stopped. */
static int
main_serve(int ready_fd)
{
	static ev_signal	 sigs[4];
	struct config		*cfg = main_cfg;
	struct ev_loop		*loop;
	char			 err[256];
	int			 i;

	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("cannot initialise libev");
	server_init(loop, cfg);
	/*
	 * Signals first: a SIGTERM that comes once the port is open (the
	 * kernel accepts from listen() on) must stop, not kill, us.
	 */
	ev_signal_init(&sigs[0], main_stop_cb, SIGTERM);
	ev_signal_init(&sigs[1], main_stop_cb, SIGINT);
	ev_signal_init(&sigs[2], main_reload_cb, SIGHUP);
	ev_signal_init(&sigs[3], main_reopen_cb, SIGUSR1);
	for (i = 0; i < 4; i++) {
		ev_signal_start(loop, &sigs[i]);
		ev_unref(loop);
	}
	main_metrics_routes(cfg);
	if (main_tls(cfg, &server.tls, err, sizeof(err)) == -1) {
		log_error("tls: %s", err);
		return 1;
	}
	if (listeners_sync(cfg) == -1)
		return 1;
	if ((cfg->user != NULL || cfg->group != NULL) &&
	    privs_drop(cfg->user, cfg->group, err, sizeof(err)) == -1) {
		log_error("dropping privileges: %s", err);
		return 1;
	}
	/* Changing user clears it: a worker still dies with its supervisor. */
	if (ready_fd != -1 && (cfg->user != NULL || cfg->group != NULL))
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (geteuid() == 0 && main_spawns(cfg) && cfg->allow_root_line > 0 &&
	    !cfg->allow_root)
		log_warnx("running as root with allow_root = no: process "
		    "routes will answer 502 (set user =)");
	else if (geteuid() == 0 && main_spawns(cfg) && !cfg->allow_root)
		log_warnx("running as root: programs are spawned as root "
		    "(set user = to drop privileges)");
	main_is_worker = ready_fd != -1;
	if (main_is_worker && write(ready_fd, "r", 1) != 1)
		log_warn("ready pipe");
	if (!main_is_worker)
		notify_ready();
	ev_run(loop, 0);
	listeners_close_all();
	config_ref_put(server.cref);
	log_info("exiting");
	return 0;
}

static int
main_workers(const struct config *cfg)
{
	long	 n = cfg->workers;

	/* Shared sessions live in one process (config_check_share). */
	if (n == 0 && cfg->shares)
		n = 1;
	if (n == 0 && (n = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		n = 1;
	return (int)n;
}

int
main(int argc, char *argv[])
{
	struct options		 opts;
	struct config		*cfg;
	struct tls_ctx		*tls;
	char			 err[512];
	int			 rv, n;

	main_argc = argc;
	main_argv = argv;
	/*
	 * Descriptors our parent left open must not reach the programs we
	 * spawn (ours are all O_CLOEXEC already).
	 */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	if ((cfg = main_load_config(&opts, &rv)) == NULL) {
		if (rv == 0 && opts.help)
			options_usage(stdout);
		else if (rv == 0 && opts.version)
			printf("wsbridge %s\n", WSBRIDGE_VERSION);
		else if (rv == 0 && opts.license)
			options_license(stdout);
		return rv;
	}
	if (opts.check) {
		if (main_tls(cfg, &tls, err, sizeof(err)) == -1) {
			fprintf(stderr, "wsbridge: tls: %s\n", err);
			config_free(cfg);
			return 1;
		}
		tls_ctx_free(tls);
		config_exposed(cfg, main_exposed_print, stderr);
		if (listeners_check(cfg, stderr) > 0) {
			config_free(cfg);
			return 1;
		}
		config_print(cfg, stdout);
		/* Which file was checked, as nginx -t says. */
		if (cfg->path != NULL)
			printf("%s: ", cfg->path);
		printf("configuration OK\n");
		config_free(cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Relay buffers come and go with every burst: keep them on the
	 * heap and keep freed heap for a while, instead of mmap/brk and
	 * fresh zeroed pages for each one (a 5x difference for big
	 * messages). Idle connections still hold no buffer.
	 */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);
	log_init(cfg->log_level, cfg->access_log);
	/* before fork: every worker seals and opens tickets alike */
	if (tls_keys_init() == -1)
		log_warnx("tls: no shared session ticket keys");
	config_exposed(cfg, main_exposed_log, NULL);
	if (record_open(cfg->record, err, sizeof(err)) == -1) {
		log_error("record: %s", err);
		config_free(cfg);
		return 1;
	}
	main_cfg = cfg;
	if ((n = main_workers(cfg)) <= 1)
		return main_serve(-1);
	if (listeners_share_unix(cfg) == -1) {
		config_free(cfg);
		return 1;
	}
	rv = worker_supervise(n, main_serve, notify_ready,
	    main_supervisor_reload);
	listeners_unshare_unix();
	config_free(main_cfg);
	return rv;
}

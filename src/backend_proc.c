/*
 * Process backend: posix_spawn over pipes (or a pty) in a new process
 * group, the websocketd-compatible environment, stderr drained to the log,
 * reaping from the loop and the TERM-then-KILL sequence for the group
 * (on a pty: the whole session, found in /proc). A proc outlives its
 * owner until the child is reaped and the group signalled (tmux job.c:
 * exit and EOF may come in either order). Three tables: pipes, a pty
 * (spawned at the client's size, resized), and CGI programs. The loop
 * is libev's default one (main.c).
 */
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "backend.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "proc_env.h"

#define PROC_STDERR_LINE	512	/* longer stderr lines are cut */
#define PROC_MAX_GROUPS		64	/* groups signalled once per walk */

struct proc {
	pid_t			 pid;
	struct backend		*be;		/* NULL once detached */
	int			 errfd;
	ev_io			 err_rd;
	char			 errline[PROC_STDERR_LINE];
	size_t			 errlen;
	bool			 errskip;	/* discarding a long line's tail */
	ev_child		 child;
	ev_timer		 timer;		/* TERM, then KILL */
	int			 stage;		/* 0, 1 TERM sent, 2 KILL sent */
	bool			 exited;
	bool			 session;	/* pty: signal the whole session */
	char			*log_head, *log_tail;	/* access line waiting */
	bool			 log_json;	/* ... in JSON */
	char			*label;		/* its route, for metrics */
	ev_tstamp		 grace;
	char			 route[64];
	LIST_ENTRY(proc)	 entry;
};

static LIST_HEAD(, proc)	procs = LIST_HEAD_INITIALIZER(procs);
static int			nprocs;

static void	proc_free(struct proc *);
static void	proc_kill_group(struct proc *, int);

int
backend_proc_count(void)
{
	return nprocs;
}

/* State, group and session of pid from /proc; -1 if it is gone. */
static int
proc_stat(pid_t pid, char *state, pid_t *pgrp, pid_t *sid)
{
	char	 path[64], buf[512], *rp;
	ssize_t	 n;
	int	 fd, pg, sd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold anything: parse after its ')'. */
	if ((rp = strrchr(buf, ')')) == NULL ||
	    sscanf(rp + 1, " %c %*d %d %d", state, &pg, &sd) != 3)
		return -1;
	*pgrp = pg;
	*sid = sd;
	return 0;
}

/* Signal group pgrp once per walk (several members may share it). */
static void
proc_signal_group(pid_t pgrp, int sig, pid_t *done, size_t *ndone)
{
	size_t	 i;

	for (i = 0; i < *ndone; i++)
		if (done[i] == pgrp)
			return;
	if (*ndone < PROC_MAX_GROUPS)
		done[(*ndone)++] = pgrp;
	if (kill(-pgrp, sig) == -1 && errno != ESRCH)
		log_warn("kill group %d", (int)pgrp);
}

/*
 * Live members of what the grace sequence reaches: the child's process
 * group or, for a pty, the child's whole session (job control gives
 * each job a group of its own). Zombies don't count: a member nobody
 * reaps is not "still there". With sig != 0 each live member's group is
 * signalled (a group cannot leave the session, so this stays inside it).
 */
static int
proc_members(const struct proc *p, int sig)
{
	pid_t		 done[PROC_MAX_GROUPS], pid, pgrp, sid;
	size_t		 ndone = 0;
	struct dirent	*de;
	DIR		*d;
	char		 state;
	int		 n = 0;

	if ((d = opendir("/proc")) == NULL)
		return kill(-p->pid, sig) == 0 ? 1 : 0;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (proc_stat(pid, &state, &pgrp, &sid) == -1 ||
		    (p->session ? sid : pgrp) != p->pid ||
		    state == 'Z' || state == 'X')
			continue;
		n++;
		if (sig != 0)
			proc_signal_group(pgrp, sig, done, &ndone);
	}
	closedir(d);
	return n;
}

/* Is anyone (not a zombie) left in the child's group, or session? */
static bool
proc_group_alive(const struct proc *p)
{
	/* The common case, an empty group, costs no walk. */
	if (!p->session && kill(-p->pid, 0) == -1)
		return false;
	return proc_members(p, 0) > 0;
}

static void
proc_kill_group(struct proc *p, int sig)
{
	if (kill(-p->pid, sig) == -1 && errno != ESRCH)
		log_warn("route %s pid %d: kill", p->route, (int)p->pid);
	if (p->session)
		proc_members(p, sig);
}

/* Free once reaped and nothing can be left to signal. */
static void
proc_maybe_free(struct proc *p)
{
	if (p->exited && p->be == NULL && p->stage == 0 &&
	    !ev_is_active(&p->timer))
		proc_free(p);
}

/* Fires close_grace after detach (or EOF): TERM, then KILL the group. */
static void
proc_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proc	*p = w->data;

	(void)revents;
	if (p->stage == 0 && (!p->exited || proc_group_alive(p))) {
		log_debug("route %s pid %d: SIGTERM to %s", p->route,
		    (int)p->pid, p->session ? "session" : "group");
		proc_kill_group(p, SIGTERM);
		p->stage = 1;
		ev_timer_set(w, p->grace, 0.);
		ev_timer_start(loop, w);
		return;
	}
	if (p->stage == 1 && (!p->exited || proc_group_alive(p))) {
		log_info("route %s pid %d: %s still there after SIGTERM: "
		    "SIGKILL", p->route, (int)p->pid,
		    p->session ? "session" : "group");
		proc_kill_group(p, SIGKILL);
	}
	p->stage = 0;
	ev_timer_stop(loop, w);
	if (p->exited && p->be == NULL)
		proc_free(p);
}

/* Start TERM/KILL after close_grace unless already under way. */
static void
proc_terminate(struct proc *p)
{
	if (ev_is_active(&p->timer) || p->stage != 0)
		return;
	ev_timer_set(&p->timer, p->grace, 0.);
	ev_timer_start(EV_DEFAULT_UC, &p->timer);
}

/* Output EOF while the child runs: the grace sequence starts now. */
static void
proc_be_terminate(struct backend *b)
{
	if (b->u.proc != NULL)
		proc_terminate(b->u.proc);
}

/* The owner is gone (stdin closed with its fds): TERM and KILL follow. */
static void
proc_be_stop(struct backend *b)
{
	struct proc	*p = b->u.proc;

	if (p == NULL)
		return;
	b->u.proc = NULL;
	p->be = NULL;
	if (p->exited && !proc_group_alive(p))
		proc_maybe_free(p);
	else
		proc_terminate(p);
}

void
backend_proc_kill_all(void)
{
	struct proc	*p;

	LIST_FOREACH(p, &procs, entry)
		proc_kill_group(p, SIGKILL);
}

void
backend_log_at_exit(struct backend *b, const char *head, const char *tail,
    bool json)
{
	struct proc	*p = b->u.proc;

	if (!backend_has_process(b))
		return;
	p->log_json = json;
	free(p->log_head);
	free(p->log_tail);
	if ((p->log_head = strdup(head)) == NULL ||
	    (p->log_tail = strdup(tail)) == NULL) {
		log_warnx("pid %d: access line lost: out of memory",
		    (int)p->pid);
		free(p->log_head);
		p->log_head = NULL;
	}
}

/* The connection's access line, now that the exit status is known. */
static void
proc_log_exit(struct proc *p, int status)
{
	char	 ex[32], *line;

	if (p->log_head == NULL)
		return;
	log_exit_status(status, p->log_json, ex, sizeof(ex));
	if (asprintf(&line, "%s%s%s", p->log_head, ex, p->log_tail) == -1)
		log_warnx("pid %d: access line lost: out of memory",
		    (int)p->pid);
	else {
		log_access_line(line);
		free(line);
	}
	free(p->log_head);
	free(p->log_tail);
	p->log_head = p->log_tail = NULL;
}

/* Fires when the child changes state: reap it and tell the owner. */
static void
proc_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct proc	*p = w->data;

	(void)revents;
	if (!WIFEXITED(w->rstatus) && !WIFSIGNALED(w->rstatus))
		return;
	ev_child_stop(loop, w);
	p->exited = true;
	metrics_process_exit(p->label, w->rstatus);
	proc_log_exit(p, w->rstatus);
	log_debug("route %s pid %d: exit status 0x%x", p->route, (int)p->pid,
	    w->rstatus);
	/* Leftovers in the group (grandchildren) get the grace sequence. */
	if (proc_group_alive(p))
		proc_terminate(p);
	if (p->be != NULL)
		p->be->owner->exited(p->be->arg, w->rstatus);
	else
		proc_maybe_free(p);
}

static void
proc_stderr_flush(struct proc *p)
{
	char	 esc[PROC_STDERR_LINE * 4 + 8];

	if (p->errlen == 0)
		return;
	log_escape(esc, sizeof(esc), p->errline, p->errlen);
	log_info("route %s pid %d: stderr: %s%s", p->route, (int)p->pid, esc,
	    p->errskip ? " [line cut]" : "");
	p->errlen = 0;
}

static void
proc_stderr_byte(struct proc *p, char ch)
{
	if (ch == '\n') {
		proc_stderr_flush(p);
		p->errskip = false;
	} else if (p->errskip)
		return;
	else if (p->errlen == sizeof(p->errline)) {
		/* Log the start once, marked; drop the rest of the line. */
		p->errskip = true;
		proc_stderr_flush(p);
	} else
		p->errline[p->errlen++] = ch;
}

/* Fires when the child writes to stderr: always drained, logged by line. */
static void
proc_stderr_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proc	*p = w->data;
	char		 chunk[16384];
	ssize_t		 n, i;

	(void)revents;
	n = read(p->errfd, chunk, sizeof(chunk));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		proc_stderr_flush(p);
		ev_io_stop(loop, w);
		close(p->errfd);
		p->errfd = -1;
		return;
	}
	for (i = 0; i < n; i++)
		proc_stderr_byte(p, chunk[i]);
}

static void
proc_free(struct proc *p)
{
	proc_log_exit(p, -1);	/* never reaped (shutdown): no status */
	ev_child_stop(EV_DEFAULT_UC, &p->child);
	ev_timer_stop(EV_DEFAULT_UC, &p->timer);
	if (p->errfd != -1) {
		proc_stderr_flush(p);
		ev_io_stop(EV_DEFAULT_UC, &p->err_rd);
		close(p->errfd);
	}
	LIST_REMOVE(p, entry);
	nprocs--;
	free(p->label);
	free(p);
}

static int
set_nonblock(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Signals wsbridge handles or ignores go back to default in the child. */
static void
proc_spawnattr(posix_spawnattr_t *at, bool pty)
{
	sigset_t	 none, def;

	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGCHLD);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGUSR1);
	sigaddset(&def, SIGQUIT);
	posix_spawnattr_init(at);
	posix_spawnattr_setsigmask(at, &none);
	posix_spawnattr_setsigdefault(at, &def);
	if (pty)
		posix_spawnattr_setflags(at, POSIX_SPAWN_SETSID |
		    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	else {
		posix_spawnattr_setpgroup(at, 0);
		posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP |
		    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	}
}

/* Pipes: fds[0..2] are the child's stdin/stdout/stderr, fds[3..5] ours. */
static int
proc_pipes(posix_spawn_file_actions_t *fa, int fds[6])
{
	int	 in[2], out[2], err[2];

	if (pipe2(in, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(out, O_CLOEXEC) == -1) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	if (pipe2(err, O_CLOEXEC) == -1) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return -1;
	}
	fds[0] = in[0], fds[1] = out[1], fds[2] = err[1];
	fds[3] = in[1], fds[4] = out[0], fds[5] = err[0];
	posix_spawn_file_actions_adddup2(fa, fds[0], 0);
	posix_spawn_file_actions_adddup2(fa, fds[1], 1);
	posix_spawn_file_actions_adddup2(fa, fds[2], 2);
	return 0;
}

/*
 * A pty: the child opens the slave after setsid (so it becomes its
 * controlling terminal); we keep the master for reading and a dup of it
 * for writing. fds as in proc_pipes, child's side unused (-1).
 */
static int
proc_pty(posix_spawn_file_actions_t *fa, int fds[6], unsigned short cols,
    unsigned short rows)
{
	struct winsize	 ws = { .ws_row = rows, .ws_col = cols };
	char		 name[64];
	int		 m;

	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		return -1;
	if (grantpt(m) == -1 || unlockpt(m) == -1 ||
	    ptsname_r(m, name, sizeof(name)) != 0 ||
	    ioctl(m, TIOCSWINSZ, &ws) == -1 ||
	    (fds[3] = fcntl(m, F_DUPFD_CLOEXEC, 0)) == -1) {
		close(m);
		return -1;
	}
	fds[0] = fds[1] = fds[2] = fds[5] = -1;
	fds[4] = m;
	posix_spawn_file_actions_addopen(fa, 0, name, O_RDWR, 0);
	posix_spawn_file_actions_adddup2(fa, 0, 1);
	posix_spawn_file_actions_adddup2(fa, 0, 2);
	return 0;
}

static void
close_fds(int *fds, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (fds[i] != -1)
			close(fds[i]);
}

static struct proc *
proc_new(struct backend *b, const struct backend_params *bp, pid_t pid,
    int errfd)
{
	const struct route	*r = bp->route;
	struct proc		*p;

	/* No memory to watch it: the child goes at once (reaped here). */
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->label = strdup(bp->label)) == NULL) {
		free(p);
		kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		if (errfd != -1)
			close(errfd);
		return NULL;
	}
	p->pid = pid;
	p->be = b;
	p->errfd = errfd;
	p->session = r != NULL && r->mode == MODE_PTY;
	p->grace = (r != NULL ? r->limits.close_grace_ms :
	    bp->cfg->limits.close_grace_ms) / 1000.;
	snprintf(p->route, sizeof(p->route), "%s", bp->log_route);
	ev_child_init(&p->child, proc_child_cb, pid, 0);
	p->child.data = p;
	ev_child_start(EV_DEFAULT_UC, &p->child);
	ev_init(&p->timer, proc_timer_cb);
	p->timer.data = p;
	if (errfd != -1) {
		ev_io_init(&p->err_rd, proc_stderr_cb, errfd, EV_READ);
		p->err_rd.data = p;
		ev_io_start(EV_DEFAULT_UC, &p->err_rd);
	}
	LIST_INSERT_HEAD(&procs, p, entry);
	nprocs++;
	return p;
}

/* allow_root = no, said out loud: refuse rather than warn. */
static int
proc_refuse_root(const struct config *cfg, char *err, size_t errsz)
{
	if (geteuid() == 0 && cfg->allow_root_line > 0 && !cfg->allow_root) {
		snprintf(err, errsz, "refusing to spawn as root "
		    "(allow_root = no; set user =)");
		return -1;
	}
	return 0;
}

/*
 * Spawn the route's program (or the dir route's) with pipes, or a pty of
 * the params' size when the route's mode is pty; expose stdin as wfd and
 * stdout (or the pty's master) as rfd.
 */
static int
proc_start(struct backend *b, const struct backend_params *bp, char *err,
    size_t errsz)
{
	const struct route		*r = bp->route;
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	char				**envp;
	struct strlist			 env;
	char				**argv, *dirargv[2];
	int				 fds[6], rv;
	pid_t				 pid;
	bool				 pty = r->mode == MODE_PTY;

	if (proc_refuse_root(bp->cfg, err, errsz) == -1)
		return -1;
	posix_spawn_file_actions_init(&fa);
	if ((pty ? proc_pty(&fa, fds, bp->cols, bp->rows) :
	    proc_pipes(&fa, fds)) == -1) {
		snprintf(err, errsz, "%s: %s", pty ? "pty" : "pipe",
		    strerror(errno));
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	if (r->cwd != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, r->cwd);
	proc_spawnattr(&at, pty);
	argv = r->argv.v;
	if (bp->request->program != NULL) {
		dirargv[0] = (char *)(uintptr_t)bp->request->program;
		dirargv[1] = NULL;
		argv = dirargv;
	}
	envp = proc_env_build(r, bp->request, &env);
	rv = envp == NULL ? ENOMEM :
	    posix_spawn(&pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	strlist_free(&env);
	close_fds(fds, 3);
	if (rv != 0) {
		snprintf(err, errsz, "spawn %s: %s", argv[0], strerror(rv));
		close_fds(fds + 3, 3);
		return -1;
	}
	set_nonblock(fds[3]);
	set_nonblock(fds[4]);
	if (fds[5] != -1)
		set_nonblock(fds[5]);
	b->wfd = fds[3];
	b->rfd = fds[4];
	if ((b->u.proc = proc_new(b, bp, pid, fds[5])) == NULL) {
		snprintf(err, errsz, "spawn %s: out of memory", argv[0]);
		if (b->rfd != -1)
			close(b->rfd);
		if (b->wfd != -1)
			close(b->wfd);
		b->rfd = b->wfd = -1;
		return -1;
	}
	log_debug("conn %llu: spawned %s pid %d", (unsigned long long)bp->id,
	    argv[0], (int)pid);
	return 0;
}

/*
 * A CGI program (the request's program) over pipes, in its own
 * directory as Go's net/http/cgi runs it: rfd is its stdout, wfd its
 * stdin (for the request body; the owner closes it at once without).
 */
static int
proc_start_cgi(struct backend *b, const struct backend_params *bp,
    char *err, size_t errsz)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	char				**envp;
	struct strlist			 env;
	char				*argv[2] = {
	    (char *)(uintptr_t)bp->request->program, NULL };
	char				 dir[PATH_MAX], *slash;
	int				 fds[6], rv;
	pid_t				 pid;

	if (proc_refuse_root(bp->cfg, err, errsz) == -1)
		return -1;
	posix_spawn_file_actions_init(&fa);
	if (proc_pipes(&fa, fds) == -1) {
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", argv[0]);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		posix_spawn_file_actions_addchdir_np(&fa, dir);
	}
	proc_spawnattr(&at, false);
	envp = proc_env_build(NULL, bp->request, &env);
	rv = envp == NULL ? ENOMEM :
	    posix_spawn(&pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	strlist_free(&env);
	close_fds(fds, 3);	/* the child's ends */
	if (rv != 0) {
		snprintf(err, errsz, "spawn %s: %s", argv[0], strerror(rv));
		close_fds(fds + 3, 3);
		return -1;
	}
	set_nonblock(fds[3]);
	set_nonblock(fds[4]);
	set_nonblock(fds[5]);
	b->wfd = fds[3];
	b->rfd = fds[4];
	if ((b->u.proc = proc_new(b, bp, pid, fds[5])) == NULL) {
		snprintf(err, errsz, "spawn %s: out of memory", argv[0]);
		if (b->rfd != -1)
			close(b->rfd);
		if (b->wfd != -1)
			close(b->wfd);
		b->rfd = b->wfd = -1;
		return -1;
	}
	log_debug("conn %llu: CGI %s pid %d", (unsigned long long)bp->id,
	    argv[0], (int)pid);
	return 0;
}

/* The terminal's new size, on the master the owner still holds. */
static int
proc_resize(struct backend *b, unsigned short cols, unsigned short rows)
{
	struct winsize	 ws;

	if (b->u.proc == NULL || b->rfd == -1)
		return 0;
	memset(&ws, 0, sizeof(ws));
	ws.ws_col = cols;
	ws.ws_row = rows;
	return ioctl(b->rfd, TIOCSWINSZ, &ws);
}

static void
proc_name(const struct backend *b, char *buf, size_t len)
{
	if (b->u.proc != NULL)
		snprintf(buf, len, "pid %d", (int)b->u.proc->pid);
	else
		snprintf(buf, len, b->ops == &backend_pty_ops ?
		    "no process yet" : "no process");
}

const struct backend_ops backend_proc_ops = {
	.flags = BACKEND_F_PROCESS,
	.start = proc_start,
	.terminate = proc_be_terminate,
	.stop = proc_be_stop,
	.name = proc_name,
};

const struct backend_ops backend_pty_ops = {
	.flags = BACKEND_F_PROCESS | BACKEND_F_LATE,
	.start = proc_start,
	.resize = proc_resize,
	.terminate = proc_be_terminate,
	.stop = proc_be_stop,
	.name = proc_name,
};

const struct backend_ops backend_cgi_ops = {
	.flags = BACKEND_F_PROCESS,
	.start = proc_start_cgi,
	.terminate = proc_be_terminate,
	.stop = proc_be_stop,
	.name = proc_name,
};

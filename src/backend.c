/*
 * The backend interface: which table of operations a route gets (the
 * only place that looks at a route's kind to choose one), and the calls
 * the owner makes, which skip operations a backend does not have.
 */
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "config.h"

const struct backend_ops *
backend_ops_for(const struct route *r)
{
	switch (r->kind) {
	case BACKEND_EXEC:
	case BACKEND_DIR:
		return r->mode == MODE_PTY ? &backend_pty_ops :
		    &backend_proc_ops;
	case BACKEND_CONNECT:
	case BACKEND_TARGETS:
		return &backend_tcp_ops;
	case BACKEND_ECHO:
		return &backend_echo_ops;
	case BACKEND_VIEW:
		/* Never started: its clients join r->view_of's sessions. */
		return r->view_of != NULL ? backend_ops_for(r->view_of) : NULL;
	default:
		return NULL;	/* config_check refuses such a route */
	}
}

bool
backend_route_spawns(const struct route *r)
{
	const struct backend_ops	*ops = backend_ops_for(r);

	return ops != NULL && (ops->flags & BACKEND_F_PROCESS) != 0;
}

bool
backend_route_terminal(const struct route *r)
{
	return backend_ops_for(r) == &backend_pty_ops;
}

void
backend_init(struct backend *b, const struct backend_ops *ops,
    const struct backend_owner *owner, void *arg)
{
	memset(b, 0, sizeof(*b));
	b->ops = ops;
	b->owner = owner;
	b->arg = arg;
	b->rfd = b->wfd = -1;
}

unsigned
backend_flags(const struct backend *b)
{
	return b->ops != NULL ? b->ops->flags : 0;
}

bool
backend_has_process(const struct backend *b)
{
	return (backend_flags(b) & BACKEND_F_PROCESS) && b->u.proc != NULL;
}

int
backend_start(struct backend *b, const struct backend_params *p, char *err,
    size_t errsz)
{
	if (b->ops == NULL || b->ops->start == NULL)
		return 0;
	b->started = true;
	return b->ops->start(b, p, err, errsz);
}

int
backend_input(struct backend *b, int type, const void *p, size_t n,
    bool fin)
{
	if (b->ops == NULL || b->ops->input == NULL)
		return 0;	/* nothing takes it: dropped */
	return b->ops->input(b, type, p, n, fin);
}

size_t
backend_room(struct backend *b)
{
	if (b->ops == NULL || b->ops->room == NULL)
		return SIZE_MAX;
	return b->ops->room(b);
}

void
backend_shut_input(struct backend *b)
{
	if (b->ops != NULL && b->ops->shut_input != NULL)
		b->ops->shut_input(b);
}

int
backend_resize(struct backend *b, unsigned short cols, unsigned short rows)
{
	if (b->ops == NULL || b->ops->resize == NULL)
		return 0;
	return b->ops->resize(b, cols, rows);
}

void
backend_terminate(struct backend *b)
{
	if (b->ops != NULL && b->ops->terminate != NULL)
		b->ops->terminate(b);
}

void
backend_stop(struct backend *b)
{
	if (b->started && b->ops->stop != NULL)
		b->ops->stop(b);
}

void
backend_name(const struct backend *b, char *buf, size_t len)
{
	if (b->ops == NULL || b->ops->name == NULL)
		snprintf(buf, len, "-");
	else
		b->ops->name(b, buf, len);
}

/*
 * record = DIR: a session's recording (cast.c writes it). Opened once the
 * backend runs (a terminal: at its size, with its title); what goes out
 * is recorded once per message, before the fan-out, whatever the number
 * of clients. A full disk or record_max stops the recording, logged once;
 * the session goes on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast.h"
#include "log.h"
#include "pty_proto.h"
#include "session_int.h"

/* cast_problem says once that recording stopped: log it. */
static void
session_record_check(struct session *s)
{
	const char	*why;

	if ((why = cast_problem(s->cast)) != NULL)
		log_warnx("conn %llu %s: recording %s stopped: %s",
		    (unsigned long long)s->id, s->peer, cast_path(s->cast),
		    why);
}

void
session_record_open(struct session *s, unsigned cols, unsigned rows)
{
	const struct route	*r = s->route;
	struct cast_info	 ci;
	char			 id[32], err[300];

	if (r->record_dir == NULL || s->cast != NULL)
		return;
	/* Unshared: the connection's number (an SSE key is a secret). */
	snprintf(id, sizeof(id), "%llu", (unsigned long long)s->id);
	memset(&ci, 0, sizeof(ci));
	ci.dir = r->record_dir;
	ci.route = r->path;
	ci.id = s->shared && s->key != NULL && *s->key != '\0' ? s->key : id;
	ci.pty = r->mode == MODE_PTY;
	ci.term = r->term;
	ci.shell = r->argv.n > 0 ? r->argv.v[0] : NULL;
	ci.title = s->title;
	ci.user = s->owner;
	ci.input = r->record_input;
	ci.cols = cols;
	ci.rows = rows;
	ci.max = (size_t)r->record_max;
	if ((s->cast = cast_open(&ci, err, sizeof(err))) == NULL) {
		log_warnx("conn %llu %s: not recorded: %s",
		    (unsigned long long)s->id, s->peer, err);
		return;
	}
	log_info("conn %llu %s: recording %s", (unsigned long long)s->id,
	    s->peer, cast_path(s->cast));
}

void
session_record_out(struct session *s, enum msg_type type,
    const struct iovec *iov, int iovcnt)
{
	uint8_t	*joined;
	size_t	 len = 0, off = 0;
	int	 i;

	if (s->route->mode == MODE_PTY) {
		/* ttyd's output command, then the bytes: only those. */
		if (iovcnt == 2 && iov[0].iov_len == 1 &&
		    *(const uint8_t *)iov[0].iov_base == PTY_OUT_OUTPUT)
			cast_output(s->cast, type, iov[1].iov_base,
			    iov[1].iov_len);
	} else if (iovcnt == 1)
		cast_output(s->cast, type, iov[0].iov_base, iov[0].iov_len);
	else {
		for (i = 0; i < iovcnt; i++)
			len += iov[i].iov_len;
		if ((joined = malloc(len + 1)) == NULL)
			return;	/* a message unrecorded, not a failure */
		for (i = 0; i < iovcnt; i++) {
			memcpy(joined + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		cast_output(s->cast, type, joined, len);
		free(joined);
	}
	session_record_check(s);
}

void
session_record_in(struct session *s, enum msg_type type, const void *p,
    size_t n)
{
	cast_input(s->cast, type, p, n);
	session_record_check(s);
}

void
session_record_resize(struct session *s, unsigned cols, unsigned rows)
{
	if (s->cast == NULL)
		return;
	cast_resize(s->cast, cols, rows);
	session_record_check(s);
}

void
session_record_close(struct session *s)
{
	if (s->cast == NULL)
		return;
	session_record_check(s);
	cast_close(s->cast);
	s->cast = NULL;
}

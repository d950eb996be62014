/*
 * A long-polling session's client (issue 16, transports = poll): a
 * member of the session that is no connection. It holds the output in a
 * bounded queue until a poll acknowledges it (the backend waits while the
 * queue is full), answers a waiting poll as soon as there is output, and
 * ends the session when no poll came for session_timeout.
 */
#ifndef POLLQ_H
#define POLLQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pollq;
struct route;
struct session;
struct session_member;

/*
 * How a poll is answered: the JSON body ({"messages":[...],"closed":..})
 * and how many messages it carries. Called at most once per poll.
 */
typedef void	pollq_answer_fn(void *waiter, const char *json, size_t len,
		    unsigned nmsgs);

/*
 * The poll session takes member m of s over from the client that opened
 * it, with that client's reference on s, and names it with a fresh id on
 * route r. NULL: out of memory or no randomness (nothing changed).
 */
struct pollq	*pollq_new(struct session *, struct session_member *,
		    struct route *r, uint64_t log_id, const char *peer);
const char	*pollq_id(const struct pollq *);
/* The poll session behind member m, or NULL (another kind of client). */
struct pollq	*pollq_of(struct session_member *);
/*
 * A poll: messages up to seq after are acknowledged (after < 0: none).
 * Answered now when there are messages after it or the session closed,
 * else within poll_timeout (an earlier waiting poll is answered empty).
 * -1: out of memory, not answered.
 */
int		 pollq_poll(struct pollq *, int64_t after, void *waiter,
		    pollq_answer_fn *);
/* The waiting poll's client is gone: nobody is answered. */
void		 pollq_cancel(struct pollq *, void *waiter);
/*
 * The client is done (DELETE ?session=): a waiting poll is answered
 * with closed (1000, reason), the session goes on without this client
 * (alone, its backend stops) and the id is forgotten.
 */
void		 pollq_end_by_client(struct pollq *, const char *reason);
/* The server stops: every poll session ends (its backend too). */
void		 pollq_shutdown(void);

#endif

/*
 * --record FILE (websockify's --record): every byte that passes between
 * clients and backends, appended to FILE as JSON lines, one write(2)
 * each (workers may share the file):
 *   {"t":1764950000.123,"conn":7,"event":"open","path":"/vnc","peer":"127.0.0.1:5555"}
 *   {"t":1764950000.125,"conn":7,"dir":"in","data":"BASE64"}   client -> backend
 *   {"t":1764950000.130,"conn":7,"dir":"out","data":"BASE64"}  backend -> client
 *   {"t":1764950001.000,"conn":7,"event":"close"}
 * t is UNIX time in seconds; "in" data is what the backend was given
 * (a text route's newline included), "out" what it wrote.
 */
#ifndef RECORD_H
#define RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Open (create, append) path; -1 with err set. NULL path: recording off. */
int	record_open(const char *path, char *err, size_t errsz);
/* SIGUSR1: open the file again (after rotation). */
int	record_reopen(void);
int	record_enabled(void);
void	record_event(uint64_t conn, const char *event, const char *path,
	    const char *peer);
/* dir: "in" (client to backend) or "out" (backend to client). */
struct iovec;
void	record_data(uint64_t conn, const char *dir, const struct iovec *,
	    int iovcnt);

#endif

/*
 * The access log: one line per finished connection, text or JSON.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "backend.h"
#include "log.h"
#include "conn_int.h"

/* --- logging ------------------------------------------------------------- */

const char *
conn_route_name(const struct conn *c)
{
	return c->route == NULL ? "-" : c->route->label;
}

/* Stands for the exit status in a line that waits for the process. */
#define CONN_LOG_EXIT_MARK	"\001"

/* JSON string body: quotes, backslashes and control bytes escaped. */
static char *
conn_json_escape(char *dst, size_t dstsz, const char *src)
{
	size_t		 o = 0;
	unsigned char	 ch;

	for (; *src != '\0' && o + 7 < dstsz; src++) {
		ch = (unsigned char)*src;
		if (ch == '"' || ch == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(dst + o, dstsz - o, "\\u%04x",
			    ch);
		else
			dst[o++] = (char)ch;
	}
	dst[o] = '\0';
	return dst;
}

/*
 * One line per finished connection: text or JSON (access_log_format).
 * When the process is still running (the client left first), the line
 * is written once it is reaped, with its exit status.
 */
void
conn_access_log(struct conn *c, const char *reason)
{
	char		 ex[32], path[512], user[300], epath[1100], euser[700];
	char		 line[4096], stamp[40], *mark;
	struct tm	 tm;
	time_t		 now = time(NULL);
	bool		 later = c->proc != NULL && !c->proc_exited;

	if (!log_access_enabled())
		return;
	if (later)
		snprintf(ex, sizeof(ex), CONN_LOG_EXIT_MARK);
	else
		log_exit_status(c->exit_status, ex, sizeof(ex));
	log_escape(path, sizeof(path), c->path ? c->path : "-",
	    c->path ? strlen(c->path) : 1);
	log_escape(user, sizeof(user), c->remote_user ? c->remote_user : "-",
	    c->remote_user ? strlen(c->remote_user) : 1);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(line, sizeof(line), c->cref->cfg->access_log_format ==
	    ACCESS_LOG_JSON ? "{\"time\":\"%s\",\"conn\":%llu,\"peer\":\"%s\","
	    "\"path\":\"%s\",\"route\":\"%s\",\"user\":\"%s\",\"status\":%d,"
	    "\"duration\":%.3f,\"bytes_in\":%llu,\"msgs_in\":%llu,"
	    "\"bytes_out\":%llu,\"msgs_out\":%llu,\"close\":%u,"
	    "\"exit\":\"%s\",\"reason\":\"%s\"}" :
	    "access time=%s conn=%llu peer=%s path=\"%s\" route=%s user=\"%s\" "
	    "status=%d duration=%.3f in=%llu/%llu out=%llu/%llu close=%u "
	    "exit=\"%s\" reason=\"%s\"", stamp, (unsigned long long)c->id,
	    c->peer, conn_json_escape(epath, sizeof(epath), path),
	    conn_route_name(c), conn_json_escape(euser, sizeof(euser), user),
	    c->status, ev_now(server.loop) - c->started,
	    (unsigned long long)c->stats.bytes_in,
	    (unsigned long long)c->stats.msgs_in,
	    (unsigned long long)c->stats.bytes_out,
	    (unsigned long long)c->stats.msgs_out, c->close_code, ex, reason);
	/* Everything from the peer is escaped: the mark is ours. */
	if (later && (mark = strstr(line, CONN_LOG_EXIT_MARK)) != NULL) {
		*mark = '\0';
		backend_proc_log_at_exit(c->proc, line, mark + 1);
		return;
	}
	log_access_line(line);
}

/*
 * Connection log lines: connected and disconnected at the default level,
 * and the access log, one line per finished connection, text or JSON.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cgi.h"
#include "session.h"
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

/* A shared session's name for logs ("" when not shared). */
static void
conn_session_logname(const struct conn *c, char *buf, size_t len)
{
	char	 name[300];
	const char *key = c->session != NULL ? session_key(c->session) : NULL;

	if (key == NULL) {
		*buf = '\0';
		return;
	}
	log_escape(name, sizeof(name), session_name(c->session),
	    strlen(session_name(c->session)));
	snprintf(buf, len, "%s", name);
}

/* "pid 42", and for a shared session ", session NAME" (", viewer"). */
void
conn_backend_name(const struct conn *c, char *buf, size_t len)
{
	char	 sess[300];
	size_t	 n;

	if (c->route == NULL || c->session == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	session_backend_name(c->session, buf, len);
	conn_session_logname(c, sess, sizeof(sess));
	if (*sess != '\0' && (n = strlen(buf)) < len)
		snprintf(buf + n, len - n, ", session %s%s", sess,
		    c->route->view_of != NULL ? " (viewer)" : "");
}

/* "conn 3 127.0.0.1:40000 /path": how connection lines start. */
static void
conn_log_head(const struct conn *c, char *buf, size_t len)
{
	char	 path[300];

	log_escape(path, sizeof(path), c->path ? c->path : "-",
	    c->path ? strlen(c->path) : 1);
	snprintf(buf, len, "conn %llu %s %s", (unsigned long long)c->id,
	    c->peer, path);
}

/* At the default level, as websocketd's CONNECT: the 101 is out. */
void
conn_log_connected(const struct conn *c)
{
	char	 head[400], backend[300];

	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	conn_log_head(c, head, sizeof(head));
	conn_backend_name(c, backend, sizeof(backend));
	log_info("%s: connected: route %s, %s", head, conn_route_name(c),
	    backend);
}

/* ... and websocketd's DISCONNECT: how it ended and how long it took. */
void
conn_log_disconnected(const struct conn *c, const char *reason)
{
	char	 head[400], backend[300], code[24];

	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	conn_log_head(c, head, sizeof(head));
	conn_backend_name(c, backend, sizeof(backend));
	if (c->close_code != 0)
		snprintf(code, sizeof(code), "close %u", c->close_code);
	else
		snprintf(code, sizeof(code), "no close");
	log_info("%s: disconnected: route %s, %s, %s, %.3fs (%s)", head,
	    conn_route_name(c), backend, code, ev_now(server.loop) -
	    c->started, reason);
}

/*
 * Why a refused request ended: what it was refused for, not that the
 * client left once it had read the answer.
 */
static const char *
conn_log_reason(const struct conn *c, const char *reason)
{
	return c->refusal != NULL ? c->refusal : reason;
}

/*
 * One line per finished connection: text or JSON (access_log_format).
 * When the process is still running (the client left first), the line
 * is written once it is reaped, with its exit status. In JSON, what is
 * absent (user, exit status, close code) is null.
 */
void
conn_access_log(struct conn *c, const char *reason)
{
	char		 ex[32], path[512], user[300], epath[1100], euser[700];
	char		 line[4096], stamp[40], close[16], quser[710], *mark;
	char		 sess[200], esess[420], qsess[430];
	struct tm	 tm;
	time_t		 now = time(NULL);
	bool		 later = c->session != NULL ?
			    session_exit_pending(c->session) :
			    cgi_exit_pending(c);
	bool		 json = c->cref->cfg->access_log_format ==
			    ACCESS_LOG_JSON;

	if (!log_access_enabled())
		return;
	reason = conn_log_reason(c, reason);
	if (later)
		snprintf(ex, sizeof(ex), CONN_LOG_EXIT_MARK);
	else
		log_exit_status(c->session != NULL ?
		    session_exit_status(c->session) : cgi_exit_status(c), json,
		    ex, sizeof(ex));
	log_escape(path, sizeof(path), c->path ? c->path : "-",
	    c->path ? strlen(c->path) : 1);
	log_escape(user, sizeof(user), c->remote_user ? c->remote_user : "-",
	    c->remote_user ? strlen(c->remote_user) : 1);
	conn_json_escape(euser, sizeof(euser), user);
	snprintf(quser, sizeof(quser), json && c->remote_user == NULL ?
	    "null" : json ? "\"%s\"" : "%s", euser);
	/* A shared session's key (share = id: chosen by the client). */
	conn_session_logname(c, sess, sizeof(sess));
	conn_json_escape(esess, sizeof(esess), sess);
	snprintf(qsess, sizeof(qsess), json && *sess == '\0' ? "null" :
	    json ? "\"%s\"" : "%s", *sess == '\0' ? "-" : esess);
	snprintf(close, sizeof(close), json && c->close_code == 0 ? "null" :
	    "%u", c->close_code);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(line, sizeof(line), json ?
	    "{\"time\":\"%s\",\"conn\":%llu,\"peer\":\"%s\","
	    "\"path\":\"%s\",\"route\":\"%s\",\"session\":%s,\"user\":%s,"
	    "\"status\":%d,"
	    "\"duration\":%.3f,\"bytes_in\":%llu,\"msgs_in\":%llu,"
	    "\"bytes_out\":%llu,\"msgs_out\":%llu,\"close\":%s,"
	    "\"exit\":%s,\"reason\":\"%s\"}" :
	    "access time=%s conn=%llu peer=%s path=\"%s\" route=%s "
	    "session=\"%s\" user=\"%s\" "
	    "status=%d duration=%.3f in=%llu/%llu out=%llu/%llu close=%s "
	    "exit=\"%s\" reason=\"%s\"", stamp, (unsigned long long)c->id,
	    c->peer, conn_json_escape(epath, sizeof(epath), path),
	    conn_route_name(c), qsess, quser, c->status, ev_now(server.loop) -
	    c->started, (unsigned long long)c->stats.bytes_in,
	    (unsigned long long)c->stats.msgs_in,
	    (unsigned long long)c->stats.bytes_out,
	    (unsigned long long)c->stats.msgs_out, close, ex, reason);
	/* Everything from the peer is escaped: the mark is ours. */
	if (later && (mark = strstr(line, CONN_LOG_EXIT_MARK)) != NULL) {
		*mark = '\0';
		if (c->session != NULL)
			session_log_at_exit(c->session, line, mark + 1, json);
		else
			cgi_log_at_exit(c, line, mark + 1, json);
		return;
	}
	log_access_line(line);
}

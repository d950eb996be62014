/*
 * The access log: one line per finished connection, text or JSON.
 */
#include <stdlib.h>
#include <time.h>
#include "log.h"
#include "conn_int.h"

/* --- logging ------------------------------------------------------------- */

const char *
conn_route_name(const struct conn *c)
{
	return c->route == NULL ? "-" : c->route->label;
}

static void
conn_exit_string(const struct conn *c, char *buf, size_t len)
{
	snprintf(buf, len, "-");
	if (c->exit_status == -1)
		return;
	if (WIFEXITED(c->exit_status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(c->exit_status));
	else if (WIFSIGNALED(c->exit_status))
		snprintf(buf, len, "signal %d", WTERMSIG(c->exit_status));
}

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

/* One line per finished connection: text or JSON (access_log_format). */
void
conn_access_log(struct conn *c, const char *reason)
{
	char		 ex[32], path[512], user[300], epath[1100], euser[700];
	char		 line[4096], stamp[40];
	struct tm	 tm;
	time_t		 now = time(NULL);

	if (!log_access_enabled())
		return;
	conn_exit_string(c, ex, sizeof(ex));
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
	log_access_line(line);
}

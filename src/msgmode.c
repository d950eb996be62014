/*
 * A session's message modes: how client messages become the backend's
 * bytes and its bytes become messages. Text: a line per message both
 * ways (U+FFFD for bytes that are not UTF-8, long lines in pieces).
 * Binary: a message per read. websockify's base64: text both ways.
 * ttyd's protocol is msgmode_pty.c.
 */
#include <stdlib.h>
#include <string.h>

#include "pty_proto.h"
#include "session_int.h"
#include "ws.h"

/* --- client -> backend ----------------------------------------------- */

/*
 * websockify's base64 protocol: decode as it arrives (the scratch buffer
 * is free while input is processed); text that is not base64 is 1007.
 */
static int
msgmode_input_base64(struct session *s, const uint8_t *p, size_t n,
    bool msg_end)
{
	long	 k;

	while (n > 0 || msg_end) {
		size_t	 take = n < sizeof(relay_scratch) / 2 ?
			    n : sizeof(relay_scratch) / 2;
		bool	 end = msg_end && take == n;

		if ((k = base64_dec_feed(&s->b64, p, take, end,
		    relay_scratch)) == -1) {
			session_fail(s, WS_CLOSE_BAD_DATA, "invalid base64");
			return -1;
		}
		if (session_sink(s, relay_scratch, (size_t)k, end) == -1)
			return -1;
		p += take;
		n -= take;
		if (end)
			break;
	}
	return 0;
}

int
msgmode_input(struct session *s, enum msg_type type, const uint8_t *p,
    size_t n, bool fin)
{
	(void)type;
	if (s->route->mode == MODE_PTY)
		return msgmode_pty_input(s, p, n, fin);
	if (s->base64)
		return msgmode_input_base64(s, p, n, fin);
	return session_sink(s, p, n, fin);
}

/* --- backend -> client ----------------------------------------------- */

static int
msgmode_send(struct session *s, enum msg_type type, const void *p, size_t n)
{
	struct iovec	 iov = { (void *)(uintptr_t)p, n };

	return session_deliver(s, type, &iov, 1, true);
}

/* One text message; bytes that are not UTF-8 become U+FFFD. */
static int
msgmode_send_text(struct session *s, const uint8_t *p, size_t n)
{
	uint8_t	*clean;
	size_t	 m;
	int	 rv;

	if (ws_utf8_valid(p, n))
		return msgmode_send(s, MSG_TEXT, p, n);
	if ((clean = malloc(3 * n)) == NULL) {
		session_abort(s, "out of memory");
		return -1;
	}
	m = ws_utf8_sanitize(clean, p, n);
	rv = msgmode_send(s, MSG_TEXT, clean, m);
	free(clean);
	return rv;
}

/* A complete line (without "\n"): "\r" dropped, long lines in pieces. */
static int
msgmode_send_line(struct session *s, const uint8_t *p, size_t n)
{
	size_t	 max = (size_t)s->route->limits.max_message_size, cut;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	while (n > max) {
		if ((cut = ws_utf8_boundary(p, max)) == 0)
			cut = max;
		if (msgmode_send_text(s, p, cut) == -1)
			return -1;
		p += cut;
		n -= cut;
	}
	return msgmode_send_text(s, p, n);
}

/* Keep a partial line; if it reaches the message limit, send a piece. */
static int
msgmode_hold_partial(struct session *s, const uint8_t *p, size_t n)
{
	size_t	 max = (size_t)s->route->limits.max_message_size, cut;

	if (buf_append(&s->line, p, n) == -1) {
		session_abort(s, "out of memory");
		return -1;
	}
	while (buf_len(&s->line) >= max) {
		if ((cut = ws_utf8_boundary(buf_head(&s->line), max)) == 0)
			cut = max;
		if (msgmode_send_text(s, buf_head(&s->line), cut) == -1)
			return -1;
		buf_consume(&s->line, cut);
	}
	return 0;
}

/* Text mode: output split on "\n", one message per line. */
static int
msgmode_output_text(struct session *s, const uint8_t *p, size_t n)
{
	const uint8_t	*nl;
	size_t		 len;
	int		 rv;

	while (n > 0) {
		if ((nl = memchr(p, '\n', n)) == NULL)
			return msgmode_hold_partial(s, p, n);
		len = (size_t)(nl - p);
		if (buf_len(&s->line) > 0) {
			if (buf_append(&s->line, p, len) == -1) {
				session_abort(s, "out of memory");
				return -1;
			}
			rv = msgmode_send_line(s, buf_head(&s->line),
			    buf_len(&s->line));
			buf_free(&s->line);
		} else
			rv = msgmode_send_line(s, p, len);
		if (rv == -1)
			return -1;
		p += len + 1;
		n -= len + 1;
	}
	return 0;
}

/* websockify's base64 protocol: one text message of base64 per read. */
static int
msgmode_send_base64(struct session *s, const uint8_t *p, size_t n)
{
	char	*text;
	size_t	 len;
	int	 rv;

	if ((text = malloc(BASE64_ENCODED_SIZE(n))) == NULL) {
		session_abort(s, "out of memory");
		return -1;
	}
	len = base64_encode(text, p, n);
	rv = msgmode_send(s, MSG_TEXT, text, len);
	free(text);
	return rv;
}

int
msgmode_output(struct session *s, const uint8_t *p, size_t n)
{
	if (s->route->mode == MODE_TEXT)
		return msgmode_output_text(s, p, n);
	if (s->route->mode == MODE_PTY)
		return msgmode_pty_output(s, PTY_OUT_OUTPUT, p, n);
	if (s->base64)
		return msgmode_send_base64(s, p, n);
	return msgmode_send(s, MSG_BINARY, p, n);
}

void
msgmode_output_end(struct session *s)
{
	if (buf_len(&s->line) > 0) {
		msgmode_send_line(s, buf_head(&s->line), buf_len(&s->line));
		buf_free(&s->line);
	}
}

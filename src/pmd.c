/*
 * permessage-deflate: offers parsed by hand (a short grammar), data
 * through zlib's raw deflate streams.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "pmd.h"

#define PMD_WINDOW	15
#define PMD_MEMLEVEL	8

struct pmd {
	struct pmd_params	 params;
	z_stream		 in, out;
	bool			 in_ready, out_ready;
	int			 tail_left;	/* bytes of 00 00 ff ff to feed */
	bool			 in_message;
	bool			 stream_end;	/* BFINAL seen in this message */
};

static const uint8_t	 pmd_tail[4] = { 0x00, 0x00, 0xff, 0xff };

/* Trim blanks in place; returns the trimmed start. */
static char *
pmd_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* A window-bits value: 8..15, optionally quoted. -1 if invalid. */
static int
pmd_bits(const char *v)
{
	char	 buf[8];
	size_t	 n = strlen(v);

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		if (n - 2 >= sizeof(buf))
			return -1;
		memcpy(buf, v + 1, n - 2);
		buf[n - 2] = '\0';
		v = buf;
	}
	if (strlen(v) == 1 && v[0] == '8')
		return 8;
	if (strlen(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
		return 10 + (v[1] - '0');
	if (strlen(v) == 1 && v[0] == '9')
		return 9;
	return -1;
}

/* One parameter of an offer; -1 makes the offer unacceptable. */
static int
pmd_param(char *param, struct pmd_params *p, unsigned *seen)
{
	char	*eq = strchr(param, '='), *name, *value = NULL;
	int	 bits;

	if (eq != NULL) {
		*eq = '\0';
		value = pmd_trim(eq + 1);
	}
	name = pmd_trim(param);
	if (strcasecmp(name, "server_no_context_takeover") == 0 &&
	    value == NULL && !(*seen & 1)) {
		*seen |= 1;
		p->server_no_context_takeover = true;
	} else if (strcasecmp(name, "client_no_context_takeover") == 0 &&
	    value == NULL && !(*seen & 2)) {
		*seen |= 2;
		p->client_no_context_takeover = true;
	} else if (strcasecmp(name, "server_max_window_bits") == 0 &&
	    value != NULL && !(*seen & 4)) {
		*seen |= 4;
		/* zlib's raw deflate cannot do 8: decline, try the next. */
		if ((bits = pmd_bits(value)) < 9)
			return -1;
		p->server_max_window_bits = bits;
		p->server_max_window_bits_asked = true;
	} else if (strcasecmp(name, "client_max_window_bits") == 0 &&
	    !(*seen & 8)) {
		*seen |= 8;
		if (value != NULL && pmd_bits(value) < 0)
			return -1;
	} else
		return -1;
	return 0;
}

/* One offer "permessage-deflate; a; b=c": 0 if acceptable. */
static int
pmd_offer(char *offer, struct pmd_params *p)
{
	char		*param, *save = NULL;
	unsigned	 seen = 0;

	memset(p, 0, sizeof(*p));
	p->server_max_window_bits = PMD_WINDOW;
	param = strtok_r(offer, ";", &save);
	if (param == NULL ||
	    strcasecmp(pmd_trim(param), "permessage-deflate") != 0)
		return -1;
	while ((param = strtok_r(NULL, ";", &save)) != NULL)
		if (pmd_param(param, p, &seen) == -1)
			return -1;
	return 0;
}

int
pmd_negotiate(const char *offers, struct pmd_params *p, char *resp,
    size_t respsz)
{
	char	*copy, *offer, *save = NULL;
	int	 rv = -1;

	if (offers == NULL || (copy = strdup(offers)) == NULL)
		return -1;
	for (offer = strtok_r(copy, ",", &save); offer != NULL && rv == -1;
	    offer = strtok_r(NULL, ",", &save))
		rv = pmd_offer(offer, p);
	free(copy);
	if (rv == -1)
		return -1;
	/* Our side resets per message: less memory kept between them. */
	p->server_no_context_takeover = true;
	snprintf(resp, respsz, "permessage-deflate; server_no_context_takeover"
	    "%s", p->client_no_context_takeover ?
	    "; client_no_context_takeover" : "");
	/* RFC 7692 7.1.2.1: a server accepting the offer echoes the value. */
	if (p->server_max_window_bits_asked)
		snprintf(resp + strlen(resp), respsz - strlen(resp),
		    "; server_max_window_bits=%d", p->server_max_window_bits);
	return 0;
}

struct pmd *
pmd_new(const struct pmd_params *params)
{
	struct pmd	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->params = *params;
	return d;
}

void
pmd_free(struct pmd *d)
{
	if (d == NULL)
		return;
	if (d->in_ready)
		inflateEnd(&d->in);
	if (d->out_ready)
		deflateEnd(&d->out);
	free(d);
}

/* Streams are made on first use: a route may never need one of them. */
static int
pmd_ready_in(struct pmd *d)
{
	if (!d->in_ready) {
		if (inflateInit2(&d->in, -PMD_WINDOW) != Z_OK)
			return -1;
		d->in_ready = true;
	}
	if (!d->in_message) {
		d->in_message = true;
		d->tail_left = sizeof(pmd_tail);
	}
	return 0;
}

int
pmd_inflate(struct pmd *d, const uint8_t *in, size_t inlen, bool last,
    uint8_t *out, size_t outsz, size_t *used, size_t *produced, bool *done,
    const char **why)
{
	int	 rc;

	*used = *produced = 0;
	*done = false;
	if (pmd_ready_in(d) == -1) {
		*why = "out of memory";
		return -1;
	}
	d->in.next_out = out;
	d->in.avail_out = (uInt)outsz;
	d->in.next_in = (Bytef *)(uintptr_t)in;
	d->in.avail_in = (uInt)inlen;
	rc = inflate(&d->in, Z_SYNC_FLUSH);
	*used = inlen - d->in.avail_in;
	if (rc == Z_STREAM_END) {
		/* BFINAL (RFC 7692 7.2.3.4): ended, no marker to add. */
		d->stream_end = true;
		d->tail_left = 0;
		if (d->in.avail_in != 0) {
			*why = "data after the final deflate block";
			return -1;
		}
	}
	/* Z_BUF_ERROR: no progress possible, not an error (zlib docs). */
	if ((rc == Z_OK || rc == Z_BUF_ERROR) && last && d->in.avail_in == 0 &&
	    d->in.avail_out > 0 && d->tail_left > 0) {
		/* The message's end: the flush marker the sender dropped. */
		d->in.next_in = (Bytef *)(uintptr_t)(pmd_tail + 4 -
		    d->tail_left);
		d->in.avail_in = (uInt)d->tail_left;
		rc = inflate(&d->in, Z_SYNC_FLUSH);
		d->tail_left = (int)d->in.avail_in;
	}
	*produced = outsz - d->in.avail_out;
	if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) {
		*why = "invalid compressed data";
		return -1;
	}
	if (last && *used == inlen && d->tail_left == 0 &&
	    d->in.avail_out > 0) {
		*done = true;
		d->in_message = false;
		/* The next message starts a fresh stream after BFINAL. */
		if (d->params.client_no_context_takeover || d->stream_end)
			inflateReset(&d->in);
		d->stream_end = false;
	}
	return 0;
}

int
pmd_deflate(struct pmd *d, const uint8_t *in, size_t n, bool fin,
    uint8_t **out, size_t *outlen)
{
	size_t	 cap, len;
	uint8_t	*buf;
	int	 rv;

	if (!d->out_ready) {
		if (deflateInit2(&d->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
		    -d->params.server_max_window_bits, PMD_MEMLEVEL,
		    Z_DEFAULT_STRATEGY) != Z_OK)
			return -1;
		d->out_ready = true;
	}
	cap = deflateBound(&d->out, (uLong)n) + 16;
	if ((buf = malloc(cap)) == NULL)
		return -1;
	d->out.next_in = (Bytef *)(uintptr_t)in;
	d->out.avail_in = (uInt)n;
	d->out.next_out = buf;
	d->out.avail_out = (uInt)cap;
	/* Z_BUF_ERROR: nothing new since the last flush (empty fragment). */
	rv = deflate(&d->out, Z_SYNC_FLUSH);
	if ((rv != Z_OK && rv != Z_BUF_ERROR) || d->out.avail_in != 0) {
		free(buf);
		return -1;
	}
	len = cap - d->out.avail_out;
	if (fin) {
		if (len >= 4 && memcmp(buf + len - 4, pmd_tail, 4) == 0)
			len -= 4;
		/*
		 * Nothing new after an earlier fragment's flush: one 0x00
		 * makes, with the 00 00 ff ff the receiver appends, an empty
		 * stored block (RFC 7692 7.2.3.6), not the start of a long one.
		 */
		if (len == 0)
			buf[len++] = 0x00;
		/*
		 * Nothing carries over to the next message: give the
		 * compressor's ~256 KiB back, so an idle connection that once
		 * sent a message holds none of it.
		 */
		if (d->params.server_no_context_takeover) {
			deflateEnd(&d->out);
			d->out_ready = false;
		}
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/*
 * Base64 for websockify's subprotocol, on OpenSSL's block coder: whole
 * groups of four characters are decoded at once, the rest waits.
 */
#include <string.h>

#include <openssl/evp.h>

#include "base64.h"

size_t
base64_encode(char *dst, const uint8_t *src, size_t n)
{
	return (size_t)EVP_EncodeBlock((unsigned char *)dst, src, (int)n);
}

void
base64_dec_init(struct base64_dec *d)
{
	memset(d, 0, sizeof(*d));
}

/* Characters that may appear in base64 text (no whitespace here). */
static bool
base64_char_ok(uint8_t ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '=';
}

/* One group of four: 1 to 3 bytes; '=' only at the end of a group. */
static long
base64_group(struct base64_dec *d, const uint8_t g[4], uint8_t *dst)
{
	unsigned char	 out[4];
	int		 pad = (g[3] == '=') + (g[2] == '=' && g[3] == '=');

	if (d->ended || g[0] == '=' || g[1] == '=' ||
	    (g[2] == '=' && g[3] != '='))
		return -1;
	if (EVP_DecodeBlock(out, g, 4) != 3)
		return -1;
	memcpy(dst, out, (size_t)(3 - pad));
	d->ended = pad > 0;
	return 3 - pad;
}

long
base64_dec_feed(struct base64_dec *d, const uint8_t *src, size_t n,
    bool end, uint8_t *dst)
{
	long	 out = 0, k;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (!base64_char_ok(src[i]))
			return -1;
		d->carry[d->ncarry++] = src[i];
		if (d->ncarry < 4)
			continue;
		if ((k = base64_group(d, d->carry, dst + out)) == -1)
			return -1;
		out += k;
		d->ncarry = 0;
	}
	if (end) {
		if (d->ncarry != 0)
			return -1;
		base64_dec_init(d);
	}
	return out;
}

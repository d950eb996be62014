/*
 * The built-in echo: every client message comes back as it came, of the
 * same type and in the same pieces (fragmentation kept), through the
 * owner's output. It takes input only as fast as the owner's output
 * drains, so a client that does not read stops being read.
 */
#include <stdio.h>

#include "backend.h"

static int
echo_start(struct backend *b, const struct backend_params *p, char *err,
    size_t errsz)
{
	(void)b, (void)p, (void)err, (void)errsz;
	return 0;
}

static int
echo_input(struct backend *b, int type, const void *p, size_t n, bool fin)
{
	return b->owner->output(b->arg, type, p, n, fin);
}

static size_t
echo_room(struct backend *b)
{
	return b->owner->room(b->arg);
}

static void
echo_name(const struct backend *b, char *buf, size_t len)
{
	(void)b;
	snprintf(buf, len, "echo");
}

const struct backend_ops backend_echo_ops = {
	.flags = BACKEND_F_MESSAGES,
	.start = echo_start,
	.input = echo_input,
	.room = echo_room,
	.name = echo_name,
};

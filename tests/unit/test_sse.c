/* Unit tests for the event-stream encoding (src/sse.c). */
#include <sys/uio.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sse.h"
#include "test.h"

/* The buffer's bytes as a string (then emptied). */
static const char *
take(struct buf *b)
{
	static char	 out[4096];
	size_t		 n = buf_len(b) < sizeof(out) - 1 ? buf_len(b) :
			    sizeof(out) - 1;

	memcpy(out, buf_head(b), n);
	out[n] = '\0';
	buf_consume(b, buf_len(b));
	return out;
}

static int
put(struct sse_enc *e, struct buf *b, enum msg_type t, const char *s,
    bool fin)
{
	struct iovec	 iov = { (void *)(uintptr_t)s, strlen(s) };

	return sse_enc_message(e, b, t, &iov, 1, fin);
}

static void
test_text(void)
{
	struct sse_enc	 e = { 0 };
	struct buf	 b;

	buf_init(&b, 1 << 20);
	CHECK_EQ(put(&e, &b, MSG_TEXT, "one", true), 0);
	CHECK_STR(take(&b), "id: 1\ndata: one\n\n");
	/* LF, CR and CRLF are line breaks to the parser: data lines. */
	CHECK_EQ(put(&e, &b, MSG_TEXT, "a\nb\rc\r", false), 0);
	CHECK_EQ(put(&e, &b, MSG_TEXT, "\nd", true), 0);
	CHECK_STR(take(&b), "id: 2\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
	/* Breaks at the edges, empty lines kept, CR LF as one break. */
	CHECK_EQ(put(&e, &b, MSG_TEXT, "\r\n\n\rx\r\r\n", true), 0);
	CHECK_STR(take(&b), "id: 3\ndata: \ndata: \ndata: \ndata: x\n"
	    "data: \ndata: \n\n");
	/* Ids grow a digit. */
	e.seq = 9;
	CHECK_EQ(put(&e, &b, MSG_TEXT, "", true), 0);
	CHECK_STR(take(&b), "id: 10\ndata: \n\n");
	e.seq = UINT64_MAX - 1;
	CHECK_EQ(put(&e, &b, MSG_BINARY, "", true), 0);
	CHECK_STR(take(&b), "event: binary\nid: 18446744073709551615\n"
	    "data: \n\n");
	buf_free(&b);
}

static void
test_binary_pieces(void)
{
	struct sse_enc	 e = { 0 };
	struct buf	 b;

	buf_init(&b, 1 << 20);
	CHECK_EQ(put(&e, &b, MSG_BINARY, "f", false), 0);
	CHECK_EQ(put(&e, &b, MSG_BINARY, "ooba", false), 0);
	CHECK_EQ(put(&e, &b, MSG_BINARY, "r!", true), 0);
	CHECK_STR(take(&b), "event: binary\nid: 1\ndata: Zm9vYmFyIQ==\n\n");
	buf_free(&b);
}

static void
test_close(void)
{
	struct sse_enc	 e = { 0 };
	struct buf	 b;

	buf_init(&b, 1 << 20);
	CHECK_EQ(sse_enc_close(&e, &b, 1011, "exit \"1\"\n"), 0);
	CHECK_STR(take(&b), "event: close\ndata: {\"code\":1011,"
	    "\"reason\":\"exit \\\"1\\\"\\u000a\"}\n\n");
	buf_free(&b);
}

/*
 * A message half sent when the session closes must not reach the
 * client as a complete message (the old transport ended it with a blank
 * line: "data: half\n\n", a "message" event). Its event ends under a
 * type no one listens to; the close event names it.
 */
static void
test_close_drops_a_message_cut_short(void)
{
	struct sse_enc	 e = { 0 };
	struct buf	 b;

	buf_init(&b, 1 << 20);
	CHECK_EQ(put(&e, &b, MSG_TEXT, "whole", true), 0);
	CHECK_EQ(put(&e, &b, MSG_TEXT, "half", false), 0);
	CHECK_EQ(sse_enc_close(&e, &b, 1001, "going away"), 0);
	CHECK_STR(take(&b), "id: 1\ndata: whole\n\n"
	    "id: 2\ndata: half\nevent: dropped\n\n"
	    "event: close\ndata: {\"code\":1001,\"reason\":\"going away\","
	    "\"dropped\":2}\n\n");
	/* Binary: the bytes short of a base64 group are dropped too. */
	CHECK_EQ(put(&e, &b, MSG_BINARY, "ab", false), 0);
	CHECK_EQ(sse_enc_close(&e, &b, 1000, ""), 0);
	CHECK_STR(take(&b), "event: binary\nid: 3\ndata: \nevent: dropped\n\n"
	    "event: close\ndata: {\"code\":1000,\"reason\":\"\","
	    "\"dropped\":3}\n\n");
	/* A text piece ending in CR: the open line is still a data line. */
	CHECK_EQ(put(&e, &b, MSG_TEXT, "x\r", false), 0);
	CHECK_EQ(sse_enc_close(&e, &b, 1000, ""), 0);
	CHECK_STR(take(&b), "id: 4\ndata: x\ndata: \nevent: dropped\n\n"
	    "event: close\ndata: {\"code\":1000,\"reason\":\"\","
	    "\"dropped\":4}\n\n");
	buf_free(&b);
}

int
main(void)
{
	test_text();
	test_binary_pieces();
	test_close();
	test_close_drops_a_message_cut_short();
	TEST_REPORT();
}

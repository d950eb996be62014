/*
 * Traffic recording (--record): JSON lines appended to one file.
 */
#include <sys/time.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "record.h"

static int	 record_fd = -1;
static char	*record_path;

int
record_open(const char *path, char *err, size_t errsz)
{
	int	 fd;

	if (path == NULL)
		return 0;
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640)) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (record_fd != -1)
		close(record_fd);
	record_fd = fd;
	if (record_path != path) {
		free(record_path);
		if ((record_path = strdup(path)) == NULL)
			fatal("strdup");
	}
	return 0;
}

int
record_reopen(void)
{
	char	 err[512];

	if (record_path == NULL)
		return 0;
	if (record_open(record_path, err, sizeof(err)) == -1) {
		log_warnx("record: %s", err);
		return -1;
	}
	return 0;
}

int
record_enabled(void)
{
	return record_fd != -1;
}

static double
record_now(void)
{
	struct timeval	 tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* A JSON string body: quotes, backslash and every non-printable escaped. */
static void
record_json(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < ' ' || (unsigned char)*s >= 0x7f)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
}

/* One line, one write: lines from several workers do not interleave. */
static void
record_line(char *buf, size_t len)
{
	if (len > 0 && write(record_fd, buf, len) != (ssize_t)len)
		log_warn("record: write");
	free(buf);
}

void
record_event(uint64_t conn, const char *event, const char *path,
    const char *peer)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0;

	if (record_fd == -1 || (f = open_memstream(&buf, &len)) == NULL)
		return;
	fprintf(f, "{\"t\":%.3f,\"conn\":%llu,\"event\":\"%s\"",
	    record_now(), (unsigned long long)conn, event);
	if (path != NULL) {
		fputs(",\"path\":\"", f);
		record_json(f, path);
		fputc('"', f);
	}
	if (peer != NULL) {
		fputs(",\"peer\":\"", f);
		record_json(f, peer);
		fputc('"', f);
	}
	fputs("}\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return;
	}
	record_line(buf, len);
}

void
record_data(uint64_t conn, const char *dir, const struct iovec *iov,
    int iovcnt)
{
	unsigned char	*raw;
	char		*buf;
	size_t		 n = 0, cap, o = 0;
	int		 head, i;

	if (record_fd == -1)
		return;
	for (i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	if (n == 0 || (raw = malloc(n)) == NULL)
		return;
	for (i = 0; i < iovcnt; i++) {
		memcpy(raw + o, iov[i].iov_base, iov[i].iov_len);
		o += iov[i].iov_len;
	}
	cap = 128 + (n + 2) / 3 * 4 + 3;
	if ((buf = malloc(cap)) == NULL) {
		free(raw);
		return;
	}
	head = snprintf(buf, cap, "{\"t\":%.3f,\"conn\":%llu,\"dir\":\"%s\","
	    "\"data\":\"", record_now(), (unsigned long long)conn, dir);
	head += EVP_EncodeBlock((unsigned char *)buf + head, raw, (int)n);
	free(raw);
	memcpy(buf + head, "\"}\n", 3);
	record_line(buf, (size_t)head + 3);
}

/*
 * Static files (SPEC section 6): the response to a plain GET or HEAD under
 * static_dir, decided from the filesystem alone. Pure: no sockets, no
 * libev; the connection code sends the head and then streams the fd.
 */
#ifndef STATIC_H
#define STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct static_result {
	int	 status;	/* 200, 304, 404, 403, 405, 301 */
	int	 fd;		/* 200 to GET: the file, caller closes; or -1 */
	off_t	 size;		/* body bytes to send from fd */
	char	*head;		/* malloc'd head incl. final CRLF CRLF */
	size_t	 head_len;
};

/*
 * root: the static dir; path: the percent-decoded request path (starts
 * with '/'); method_head: a HEAD request; if_none_match and
 * if_modified_since: those request headers or NULL; keep_alive: send
 * "Connection: keep-alive", else "Connection: close"; extra: nextra
 * "Name: value" lines without CRLF, added to every response.
 *
 * Returns 0 with *res filled, -1 when out of memory (*res then holds no
 * fd and no head). Only a 200 to a GET has a body in fd (size bytes from
 * its current offset, 0). Errors (404, 403) and the 301 to "path/" carry
 * a short text/plain body inside head after the blank line (not for
 * HEAD), with fd -1; 304 has no body. Every head has a Content-Length
 * except the 304, so keep-alive works for all of them.
 *
 * Refused with 404, never with a hint of what exists: any segment that
 * starts with '.' (".", "..", dotfiles, ".git/"), paths that resolve
 * outside realpath(root) through symlinks, anything but regular files,
 * and directories without index.html (no listings). 403 means the file
 * exists but wsbridge may not read it (EACCES).
 *
 * 405 is never returned: only GET and HEAD reach this function; the
 * caller answers other methods itself (with "Allow: GET, HEAD").
 */
int	 static_respond(const char *root, const char *path, bool method_head,
	    const char *if_none_match, const char *if_modified_since,
	    bool keep_alive, char *const *extra, size_t nextra,
	    struct static_result *res);
/* Close the fd if still open, free the head; safe to call twice. */
void	 static_result_free(struct static_result *);

/* Content-Type by extension (no case); application/octet-stream else. */
const char *static_mime_type(const char *path);

/*
 * The built-in developer console (websocketd --devconsole): an HTML page
 * to type a ws:// URL, connect, and exchange messages. A static string.
 */
const char *static_devconsole_html(void);

#endif

/*
 * The built-in terminal page of pty routes (what ttyd serves on GET /):
 * an HTML page running xterm.js, whose files come from a node_modules
 * directory (examples/package.json's @xterm packages) served under
 * TERMPAGE_PREFIX. Pure: strings and stat(2), no event loop.
 */
#ifndef TERMPAGE_H
#define TERMPAGE_H

#include <stddef.h>

/* Set by the Makefile (ASSETDIR); this is its default for PREFIX=/usr. */
#ifndef WSBRIDGE_ASSET_DIR
#define WSBRIDGE_ASSET_DIR	"/usr/share/wsbridge/node_modules"
#endif

/* URL prefix of the asset files; "/_wsbridge/@xterm/..." */
#define TERMPAGE_PREFIX		"/_wsbridge/"

/*
 * The directory to serve assets from: configured (assets_dir, --assets)
 * if given, else WSBRIDGE_ASSET_DIR, else examples/node_modules beside
 * the binary's build directory (build/wsbridge in a source tree). 0 and
 * the directory in dir when it holds every file the page loads; -1 and
 * the places tried, for the error page, in dir.
 */
int		 termpage_assets(const char *configured, char *dir,
		    size_t dirsz);

/* The page itself (HTML, UTF-8). */
const char	*termpage_html(void);

/* The 500 page when no assets were found: what was tried, what to do. */
char		*termpage_missing_html(const char *tried);

/* Is path under TERMPAGE_PREFIX and one of the page's files? */
const char	*termpage_asset_path(const char *path);

#endif

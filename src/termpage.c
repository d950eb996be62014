/*
 * The terminal page of pty routes and where its xterm.js files are found.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "termpage.h"

/* What the page loads, relative to the asset directory. */
static const char *const termpage_files[] = {
	"@xterm/xterm/lib/xterm.mjs",
	"@xterm/xterm/css/xterm.css",
	"@xterm/addon-fit/lib/addon-fit.mjs",
	NULL,
};

static int
termpage_complete(const char *dir)
{
	char		 path[PATH_MAX];
	struct stat	 st;
	size_t		 i;

	for (i = 0; termpage_files[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, termpage_files[i]);
		if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
			return -1;
	}
	return 0;
}

/* build/wsbridge, build/san/wsbridge -> examples/node_modules beside build. */
static int
termpage_tree_dir(char *out, size_t outsz)
{
	char	 exe[PATH_MAX - 32], *slash;
	ssize_t	 n;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	if ((slash = strrchr(exe, '/')) != NULL && strcmp(slash, "/san") == 0)
		*slash = '\0';
	if ((slash = strrchr(exe, '/')) == NULL || strcmp(slash, "/build") != 0)
		return -1;
	*slash = '\0';
	snprintf(out, outsz, "%s/examples/node_modules", exe);
	return termpage_complete(out);
}

int
termpage_assets(const char *configured, char *dir, size_t dirsz)
{
	char	 tree[PATH_MAX] = "";

	if (configured != NULL) {
		snprintf(dir, dirsz, "%s", configured);
		return termpage_complete(dir);
	}
	if (termpage_complete(WSBRIDGE_ASSET_DIR) == 0) {
		snprintf(dir, dirsz, "%s", WSBRIDGE_ASSET_DIR);
		return 0;
	}
	if (termpage_tree_dir(tree, sizeof(tree)) == 0) {
		snprintf(dir, dirsz, "%s", tree);
		return 0;
	}
	snprintf(dir, dirsz, "%s (or examples/node_modules in a source tree)",
	    WSBRIDGE_ASSET_DIR);
	return -1;
}

const char *
termpage_asset_path(const char *path)
{
	size_t	 i, plen = strlen(TERMPAGE_PREFIX);

	if (strncmp(path, TERMPAGE_PREFIX, plen) != 0)
		return NULL;
	for (i = 0; termpage_files[i] != NULL; i++)
		if (strcmp(path + plen, termpage_files[i]) == 0)
			return path + plen - 1;	/* "/@xterm/..." */
	return NULL;
}

/*
 * The page: ttyd's protocol on xterm.js (as examples/terminal/), talking
 * to the path it was loaded from.
 */
static const char termpage[] =
"<!DOCTYPE html>\n"
"<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
"<title>wsbridge terminal</title>\n"
"<link rel=\"stylesheet\" href=\"" TERMPAGE_PREFIX
    "@xterm/xterm/css/xterm.css\">\n"
"<style>\nhtml,body{height:100%;margin:0;background:#1e1e1e}\n"
"#terminal{position:absolute;inset:0;padding:4px}\n</style>\n"
"</head>\n<body>\n<div id=\"terminal\"></div>\n"
"<noscript>This page needs JavaScript.</noscript>\n"
"<script type=\"module\">\n"
"import { Terminal } from '" TERMPAGE_PREFIX
    "@xterm/xterm/lib/xterm.mjs';\n"
"import { FitAddon } from '" TERMPAGE_PREFIX
    "@xterm/addon-fit/lib/addon-fit.mjs';\n"
"const enc = new TextEncoder(), dec = new TextDecoder();\n"
"const term = new Terminal({ cursorBlink: true, scrollback: 5000,\n"
"  fontFamily: '\"DejaVu Sans Mono\", \"Liberation Mono\", monospace' });\n"
"const fit = new FitAddon();\n"
"term.loadAddon(fit);\n"
"term.open(document.getElementById('terminal'));\n"
"fit.fit();\n"
"term.focus();\n"
"const u = new URL(location.href);\n"
"u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';\n"
"u.hash = '';\n"
"const ws = new WebSocket(u.href, ['tty']);\n"
"ws.binaryType = 'arraybuffer';\n"
"function send(cmd, s) {\n"
"  if (ws.readyState !== WebSocket.OPEN) return;\n"
"  const b = typeof s === 'string' ? enc.encode(s) : (s || new Uint8Array());\n"
"  const m = new Uint8Array(1 + b.length);\n"
"  m[0] = cmd; m.set(b, 1); ws.send(m);\n"
"}\n"
"ws.onopen = () => ws.send(enc.encode(JSON.stringify({ AuthToken: '',\n"
"  columns: term.cols, rows: term.rows })));\n"
"ws.onmessage = (ev) => {\n"
"  const d = new Uint8Array(ev.data);\n"
"  if (d.length === 0) return;\n"
"  if (d[0] === 0x30) term.write(d.subarray(1));\n"
"  else if (d[0] === 0x31) document.title = dec.decode(d.subarray(1));\n"
"};\n"
"ws.onclose = (ev) => {\n"
"  term.write('\\r\\n\\x1b[33m[connection closed: code ' + ev.code +\n"
"    (ev.reason ? ' (' + ev.reason + ')' : '') + ']\\x1b[0m\\r\\n');\n"
"  window.wsbClose = { code: ev.code, reason: ev.reason };\n"
"};\n"
"term.onData((s) => send(0x30, s));\n"
"term.onBinary((s) => send(0x30, Uint8Array.from(s, (c) =>\n"
"  c.charCodeAt(0) & 0xff)));\n"
"term.onResize(({ cols, rows }) => send(0x31,\n"
"  JSON.stringify({ columns: cols, rows: rows })));\n"
"term.onTitleChange((t) => { document.title = t; });\n"
"window.addEventListener('resize', () => fit.fit());\n"
"window.wsbTerminal = { term, ws, fit };\n"
"</script>\n</body>\n</html>\n";

const char *
termpage_html(void)
{
	return termpage;
}

/* tried is a path from the config or the build: escape it anyway. */
char *
termpage_missing_html(const char *tried)
{
	char	 esc[PATH_MAX * 2], *page;
	size_t	 o = 0;

	for (; *tried != '\0' && o + 6 < sizeof(esc); tried++) {
		if (*tried == '<' || *tried == '>' || *tried == '&') {
			o += (size_t)snprintf(esc + o, sizeof(esc) - o, "&#%d;",
			    *tried);
		} else
			esc[o++] = *tried;
	}
	esc[o] = '\0';
	if (asprintf(&page, "<!DOCTYPE html>\n<html lang=\"en\">\n"
	    "<head><meta charset=\"utf-8\"><title>wsbridge: terminal page "
	    "unavailable</title></head>\n<body>\n"
	    "<h1>Terminal page unavailable</h1>\n"
	    "<p>This is a terminal route, but the xterm.js files its page "
	    "needs were not found in %s.</p>\n"
	    "<p>Install them with <code>make browser-deps</code> in the "
	    "wsbridge source tree, or give their node_modules directory with "
	    "<code>--assets DIR</code> (<code>assets_dir</code> in "
	    "<code>[server]</code>). WebSocket clients of this route are not "
	    "affected.</p>\n</body>\n</html>\n", esc) == -1)
		return NULL;
	return page;
}

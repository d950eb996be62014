// A ttyd-protocol client on xterm.js: the page of a wsbridge pty route.
//
// Wire protocol (ttyd's, SPEC 3): subprotocol "tty", binary messages whose
// first byte is a command. Client to server: '{' JSON init
// {"AuthToken":"","columns":C,"rows":R} (the process is spawned now),
// '0' input, '1' resize {"columns":C,"rows":R}, '2' pause, '3' resume.
// Server to client: '0' output, '1' window title, '2' preferences JSON.
//
// Query parameters: ?path=/terminal (the route, default /terminal),
// ?token=... (passed on as the init's AuthToken), ?session=ID and
// ?view=/terminal/watch (the viewer route, default PATH/watch).
//
// Shared sessions (route key share = id): the page connects to
// PATH?session=ID. ID comes from the query, else from sessionStorage, else
// it is new (16 random characters of [A-Za-z0-9_-]) and kept there: a
// reload of the tab reattaches to the same session (the server's replay
// redraws the screen), a new tab starts its own. The "share read-only"
// link opens this page on the viewer route (view = PATH) with the same
// ID. A route without share ignores the parameter.
import { Terminal } from '../node_modules/@xterm/xterm/lib/xterm.mjs';
import { FitAddon } from '../node_modules/@xterm/addon-fit/lib/addon-fit.mjs';

const CMD = {
  INPUT: 0x30, RESIZE: 0x31, PAUSE: 0x32, RESUME: 0x33,	// '0'..'3'
  OUTPUT: 0x30, TITLE: 0x31, PREFS: 0x32,
};
// Output written to xterm but not yet rendered: pause the server above the
// high mark, resume below the low one (what ttyd's own client does).
const HIGH_WATER = 256 * 1024;
const LOW_WATER = 32 * 1024;

const params = new URLSearchParams(location.search);
const route = params.get('path') || '/terminal';
const viewRoute = params.get('view') || route.replace(/\/$/, '') + '/watch';
const SESSION_RE = /^[A-Za-z0-9_-]{1,64}$/;
const session = sessionId();
const statusEl = document.getElementById('status');
const detailEl = document.getElementById('detail');
const enc = new TextEncoder();
const dec = new TextDecoder();

function setStatus(state, detail) {
  statusEl.dataset.state = state;
  statusEl.textContent = state;
  detailEl.textContent = detail || '';
}

function wsUrl(path) {
  const u = new URL(path, location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  u.searchParams.set('session', session);
  return u.href;
}

// This tab's session on this route: the query's, the stored one, or new.
function sessionId() {
  const key = 'wsbridge-session:' + route;
  let id = params.get('session');
  if (!id || !SESSION_RE.test(id)) {
    try {
      id = sessionStorage.getItem(key);
    } catch {
      id = null;	// storage disabled: a session per page load
    }
  }
  if (!id || !SESSION_RE.test(id)) {
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz' +
      '0123456789-_';
    id = Array.from(crypto.getRandomValues(new Uint8Array(16)),
      (b) => abc[b & 63]).join('');
  }
  try {
    sessionStorage.setItem(key, id);
  } catch {
    // as above
  }
  return id;
}

// The "share read-only" link: this page on the viewer route, same session.
function shareLink() {
  const u = new URL(location.pathname, location.href);
  u.searchParams.set('path', viewRoute);
  u.searchParams.set('session', session);
  const a = document.getElementById('share');
  a.href = u.href;
  a.title = 'read-only view of session ' + session + ' (' + viewRoute + ')';
}

const term = new Terminal({
  cursorBlink: true,
  fontFamily: '"DejaVu Sans Mono", "Liberation Mono", monospace',
  fontSize: 14,
  scrollback: 5000,
});
const fit = new FitAddon();
term.loadAddon(fit);
term.open(document.getElementById('terminal'));
fit.fit();
term.focus();

shareLink();
const ws = new WebSocket(wsUrl(route), ['tty']);
ws.binaryType = 'arraybuffer';

// One command byte, then the payload (a string is sent as UTF-8).
function send(cmd, payload) {
  if (ws.readyState !== WebSocket.OPEN)
    return;
  const body = typeof payload === 'string' ? enc.encode(payload) : payload;
  const msg = new Uint8Array(1 + (body ? body.length : 0));
  msg[0] = cmd;
  if (body)
    msg.set(body, 1);
  ws.send(msg);
}

let pending = 0;
let paused = false;
function written(n) {
  pending -= n;
  if (paused && pending < LOW_WATER) {
    paused = false;
    send(CMD.RESUME);
  }
}

function applyPrefs(text) {
  let prefs;
  try {
    prefs = JSON.parse(text);
  } catch (e) {
    console.warn('terminal: bad preferences', e);
    return;
  }
  // ttyd's preferences are xterm options; unknown ones are ignored.
  for (const [k, v] of Object.entries(prefs || {})) {
    try {
      term.options[k] = v;
    } catch (e) {
      console.warn('terminal: preference', k, e);
    }
  }
  fit.fit();
}

ws.addEventListener('open', () => {
  setStatus('connected', route);
  // The init is the JSON text itself: its '{' is the command byte.
  ws.send(enc.encode(JSON.stringify({
    AuthToken: params.get('token') || '',
    columns: term.cols,
    rows: term.rows,
  })));
});

ws.addEventListener('message', (ev) => {
  const data = new Uint8Array(ev.data);
  if (data.length === 0)
    return;
  const body = data.subarray(1);
  switch (data[0]) {
  case CMD.OUTPUT:
    // xterm decodes UTF-8 itself, across message boundaries too.
    pending += body.length;
    term.write(body, () => written(body.length));
    if (!paused && pending > HIGH_WATER) {
      paused = true;
      send(CMD.PAUSE);
    }
    break;
  case CMD.TITLE:
    document.title = dec.decode(body);
    break;
  case CMD.PREFS:
    applyPrefs(dec.decode(body));
    break;
  default:
    console.warn('terminal: unknown command', data[0]);
  }
});

let opened = false;
ws.addEventListener('open', () => { opened = true; });
ws.addEventListener('close', (ev) => {
  const what = 'code ' + ev.code + (ev.reason ? ' (' + ev.reason + ')' : '');
  // Never opened: the upgrade failed (404, 403, 502; only the server's log
  // says which). 1006: the connection broke without a Close frame.
  setStatus(!opened || ev.code === 1006 ? 'failed' : 'closed', what);
  term.write('\r\n\x1b[33m[connection closed: ' + what + ']\x1b[0m\r\n');
  window.wsbClose = { code: ev.code, reason: ev.reason };
});

term.onData((data) => send(CMD.INPUT, data));
// Keys xterm reports as raw bytes (e.g. some Alt combinations).
term.onBinary((data) => {
  const b = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++)
    b[i] = data.charCodeAt(i) & 0xff;
  send(CMD.INPUT, b);
});
term.onResize(({ cols, rows }) =>
  send(CMD.RESIZE, JSON.stringify({ columns: cols, rows: rows })));
term.onTitleChange((title) => { document.title = title; });

let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => fit.fit(), 50);
});

// For tests and the console: the terminal and its socket.
window.wsbTerminal = { term, ws, fit, session };

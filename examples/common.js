// Shared by the demo pages: the WebSocket URL of a route on this server,
// a connection-state badge, a message log and what close codes mean.
'use strict';

// Same host and port as the page, wss: when the page came over TLS so it
// works behind a TLS listener or proxy. Opened as a file, assume `make run`.
function wsUrl(path) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return proto + '//' + (location.host || '127.0.0.1:8080') + path;
}

const CLOSE_NAMES = {
  1000: 'normal closure', 1001: 'going away', 1002: 'protocol error',
  1003: 'unsupported data', 1005: 'no status code', 1006: 'abnormal closure',
  1007: 'invalid payload', 1008: 'policy violation', 1009: 'message too big',
  1010: 'extension required', 1011: 'server error', 1012: 'service restart',
  1013: 'try again later', 1015: 'TLS handshake failed',
};

// "1000 (normal closure)", plus the reason the server gave, if any.
function closeText(ev) {
  let s = ev.code + ' (' + (CLOSE_NAMES[ev.code] || 'application') + ')';
  if (ev.reason) s += ': ' + ev.reason;
  if (!ev.wasClean) s += ', not clean';
  return s;
}

// The transports a demo tries, in order: ?transports=sse,poll on the
// page's URL picks others (to see a fallback without breaking anything).
function pageTransports() {
  const q = new URLSearchParams(location.search).get('transports');
  return q ? q.split(',').map((t) => t.trim()).filter(Boolean) :
    ['websocket', 'sse', 'poll'];
}

// Which transport a wsbridge.js socket opened on ("websocket", "sse"...).
function showTransport(el, name) {
  el.dataset.transport = name || '';
  el.textContent = name || '\u2013';
}

function setState(el, state) {
  el.dataset.state = state;
  el.textContent = state;
}

// Append a line to a log element; text only, never parsed as HTML.
function logLine(log, cls, text) {
  const row = document.createElement('div');
  const t = document.createElement('span');
  t.className = 't';
  t.textContent = new Date().toLocaleTimeString();
  row.className = cls;
  row.append(t, text);
  log.append(row);
  while (log.childElementCount > 500) log.firstElementChild.remove();
  log.scrollTop = log.scrollHeight;
}

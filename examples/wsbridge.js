// wsbridge.js: a WebSocket-like client for wsbridge routes that also
// works where a proxy or a network breaks the WebSocket upgrade. One ES
// module, no build step, no dependencies:
//
//   import * as wsbridge from './wsbridge.js';
//   const s = wsbridge.connect('/count', {transports: ['websocket', 'sse', 'poll']});
//   s.onopen = () => console.log('open over', s.transport);
//   s.onmessage = (ev) => console.log(ev.data);
//   s.onclose = (ev) => console.log('closed', ev.code, ev.reason);
//   s.send('hello');
//
// The transports are tried in order; the next one is tried when one fails
// or stalls before it opens (`timeout`, default 5 s). Once open, a socket
// stays on its transport. The route must list them (`transports =
// websocket, sse, poll` in wsbridge's config). Over sse and poll, input
// goes by `POST <route>?session=ID` (the URL the session event names).
// An SSE stream that drops is reopened by this module (not left to the
// browser, whose reconnect to the first URL would start a new session):
// at once, then after 1, 2 and 4 s, as <route>?session=ID&last_event_id=SEQ
// (each event's id is its sequence number), and wsbridge goes on where it
// stopped. If the stream is gone, the socket closes with 1006.
// close() over sse and poll tells wsbridge the session is over (`DELETE
// <route>?session=ID`, after the input sent before it, with keepalive so
// that it also goes out from a pagehide handler); without it the program
// runs on for session_timeout, waiting for a reconnect or a poll.

const CONNECTING = 0, OPEN = 1, CLOSING = 2, CLOSED = 3;
const DEFAULTS = { transports: ['websocket', 'sse'], timeout: 5000,
  withCredentials: false, binaryType: 'blob' };

// url: absolute (http, https, ws, wss) or relative to the page.
function baseUrl(url) {
  const u = new URL(url, globalThis.location ? location.href : undefined);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  if (u.protocol === 'wss:') u.protocol = 'https:';
  return u;
}

function withParams(u, params) {
  const v = new URL(u.href);
  for (const [k, x] of Object.entries(params)) v.searchParams.set(k, x);
  return v.href;
}

function b64ToBytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Socket {
  constructor(url, options = {}) {
    this.options = Object.assign({}, DEFAULTS, options);
    this.url = baseUrl(url);
    this.binaryType = this.options.binaryType;
    this.readyState = CONNECTING;
    this.transport = null;        // 'websocket' | 'sse' | 'poll' once open
    this.tried = [];              // [{transport, error}] before it opened
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    this._queue = Promise.resolve();   // POSTs in order, one at a time
    this._impl = null;
    this._next(0);
  }

  send(data) {
    if (this.readyState !== OPEN) throw new Error('wsbridge: socket not open');
    this._impl.send(data);
  }

  close(code = 1000, reason = '') {
    if (this.readyState >= CLOSING) return;
    this.readyState = CLOSING;
    if (this._impl) this._impl.close(code, reason);
    else this._closed(code, reason, true);
  }

  // Transport i failed before opening: note why, try the next one.
  _next(i, error) {
    if (i > 0) this.tried.push({ transport: this.options.transports[i - 1], error });
    if (this.readyState >= CLOSING) return;
    const name = this.options.transports[i];
    if (name === undefined) {
      this._emit('onerror', { type: 'error', message: 'no transport worked',
        tried: this.tried });
      this._closed(1006, 'no transport worked: ' + this.tried.map(
        (t) => t.transport + ' (' + t.error + ')').join(', '), false);
      return;
    }
    const make = { websocket: WsTransport, sse: SseTransport, poll: PollTransport }[name];
    if (!make) { this._next(i + 1, 'unknown transport'); return; }
    let settled = false, impl = null;
    const fail = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (impl) impl.abort();
      // Not from inside the transport's constructor or callback.
      setTimeout(() => this._next(i + 1, why), 0);
    };
    const timer = setTimeout(() => fail('no answer in ' + this.options.timeout + ' ms'),
      this.options.timeout);
    const cb = {
      opened: () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this._impl = impl;
        this.transport = name;
        this.readyState = OPEN;
        this._emit('onopen', { type: 'open', transport: name });
      },
      failed: fail,
    };
    try {
      impl = new make(this, cb);
    } catch (e) {
      fail(e.message);
    }
    if (settled && impl && this._impl !== impl) impl.abort();
  }

  _message(data, lastEventId) {
    if (this.readyState !== OPEN) return;
    this._emit('onmessage', { type: 'message', data, lastEventId: lastEventId || '' });
  }

  _closed(code, reason, wasClean) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this._emit('onclose', { type: 'close', code, reason, wasClean });
  }

  _emit(name, ev) {
    if (typeof this[name] === 'function') this[name](ev);
  }

  // A binary payload in the shape binaryType asks for.
  _binary(bytes) {
    return this.binaryType === 'arraybuffer' ? bytes.buffer : new Blob([bytes]);
  }

  // One message by POST, in order; 429 waits Retry-After and tries again.
  _post(url, data) {
    const text = typeof data === 'string';
    const body = text ? data : data instanceof Blob ? data : new Uint8Array(
      data instanceof ArrayBuffer ? data : data.buffer.slice(data.byteOffset,
        data.byteOffset + data.byteLength));
    const type = text ? 'text/plain; charset=utf-8' : 'application/octet-stream';
    const creds = this.options.withCredentials ? 'include' : 'same-origin';
    const attempt = async (tries) => {
      const r = await fetch(url, { method: 'POST', body, credentials: creds,
        headers: { 'Content-Type': type } });
      if (r.status === 429 && tries < 100) {
        await sleep(1000 * (Number(r.headers.get('Retry-After')) || 1));
        return attempt(tries + 1);
      }
      if (!r.ok) throw new Error('POST ' + r.status);
    };
    this._queue = this._queue.then(() => attempt(0)).catch((e) => {
      this._emit('onerror', { type: 'error', message: 'send failed: ' + e.message });
    });
  }

  // The client is done: DELETE ends the session now (after the input
  // sent before it); keepalive lets it outlive the page. 404: gone already.
  _end(url) {
    if (!url) return;
    const creds = this.options.withCredentials ? 'include' : 'same-origin';
    this._queue = this._queue.then(() => fetch(url, { method: 'DELETE',
      credentials: creds, keepalive: true })).catch(() => {});
  }
}
Object.assign(Socket, { CONNECTING, OPEN, CLOSING, CLOSED });

// The browser's WebSocket; a failed or refused upgrade fails it at once.
class WsTransport {
  constructor(sock, cb) {
    const u = new URL(sock.url.href);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    this.sock = sock;
    this.opened = false;
    this.ws = new WebSocket(u.href);
    this.ws.binaryType = sock.binaryType === 'arraybuffer' ? 'arraybuffer' : 'blob';
    this.ws.onopen = () => { this.opened = true; cb.opened(); };
    this.ws.onmessage = (ev) => sock._message(ev.data);
    this.ws.onerror = () => { if (!this.opened) cb.failed('upgrade failed'); };
    this.ws.onclose = (ev) => {
      if (!this.opened) { cb.failed('closed ' + ev.code); return; }
      sock._closed(ev.code, ev.reason, ev.wasClean);
    };
  }
  send(data) { this.ws.send(data); }
  close(code, reason) { this.ws.close(code, reason); }
  abort() {
    this.ws.onopen = this.ws.onmessage = this.ws.onerror = this.ws.onclose = null;
    try { this.ws.close(); } catch (e) { /* already closed */ }
  }
}

// Server-Sent Events: open at the session event (the program runs).
const SSE_REOPEN_WAITS = [0, 1000, 2000, 4000];

class SseTransport {
  constructor(sock, cb) {
    this.sock = sock;
    this.cb = cb;
    this.session = null;
    this.sendUrl = null;
    this.lastId = '';             // the last event's id: its sequence number
    this.tries = 0;               // reopenings since the last event
    this.timer = null;
    this._open(sock.url.href);
  }

  _open(url) {
    const sock = this.sock;
    const es = this.es = new EventSource(url,
      { withCredentials: sock.options.withCredentials });
    const seen = (ev) => {
      if (ev.lastEventId) this.lastId = ev.lastEventId;
      this.tries = 0;
    };
    es.addEventListener('session', (ev) => {
      const s = JSON.parse(ev.data);
      seen(ev);
      if (this.session === null) {
        this.session = s.id;
        this.sendUrl = new URL(s.send, sock.url).href;
        this.cb.opened();
      } else if (s.id !== this.session) {
        // Reconnected, but the server started another session: the
        // old one (and what it sent meanwhile) is gone.
        es.close();
        sock._closed(1006, 'session lost on reconnect', false);
      }
    });
    es.onmessage = (ev) => { seen(ev); sock._message(ev.data, ev.lastEventId); };
    es.addEventListener('binary', (ev) => {
      seen(ev);
      sock._message(sock._binary(b64ToBytes(ev.data)), ev.lastEventId);
    });
    es.addEventListener('close', (ev) => {
      const c = JSON.parse(ev.data);
      es.close();
      sock._closed(c.code, c.reason || '', true);
    });
    // Before the session event: this transport does not work here. After
    // it the stream is reopened here, by its session's id: the browser's
    // own reconnect would not name the session.
    es.onerror = () => {
      if (this.session === null) this.cb.failed('event stream failed');
      else if (this.es === es && this.timer === null) {
        es.close();
        this._reopen();
      }
    };
  }

  _reopen() {
    if (this.tries >= SSE_REOPEN_WAITS.length) {
      this.sock._closed(1006, 'event stream closed', false);
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.sock.readyState === OPEN)
        this._open(withParams(this.sock.url, { session: this.session,
          last_event_id: this.lastId || '0' }));
    }, SSE_REOPEN_WAITS[this.tries++]);
  }

  send(data) { this.sock._post(this.sendUrl, data); }
  close(code, reason) {
    this.abort();
    this.sock._end(this.sendUrl);
    this.sock._closed(code, reason, true);
  }
  abort() {
    clearTimeout(this.timer);
    this.es.close();
  }
}

// Long polling: POST ?transport=poll opens a session (201), then GET
// ?session=ID&after=SEQ until the answer says closed.
class PollTransport {
  constructor(sock, cb) {
    this.sock = sock;
    this.after = 0;
    this.stopped = false;
    this.ctl = new AbortController();
    this.start(cb);
  }
  async start(cb) {
    const creds = this.sock.options.withCredentials ? 'include' : 'same-origin';
    let r, s;
    try {
      r = await fetch(withParams(this.sock.url, { transport: 'poll' }),
        { method: 'POST', credentials: creds, signal: this.ctl.signal });
      if (r.status !== 201) throw new Error('status ' + r.status);
      s = await r.json();
    } catch (e) {
      cb.failed('poll open failed: ' + e.message);
      return;
    }
    this.id = s.id;
    this.sendUrl = new URL(s.send || withParams(this.sock.url, { session: s.id }),
      this.sock.url).href;
    cb.opened();
    this.loop(creds);
  }
  async loop(creds) {
    while (!this.stopped) {
      let body;
      try {
        const r = await fetch(withParams(this.sock.url, { session: this.id,
          after: this.after }), { credentials: creds, signal: this.ctl.signal });
        if (!r.ok) throw new Error('status ' + r.status);
        body = await r.json();
      } catch (e) {
        if (!this.stopped) this.sock._closed(1006, 'poll failed: ' + e.message, false);
        return;
      }
      for (const m of body.messages || []) {
        this.after = Math.max(this.after, m.seq);
        this.sock._message(m.type === 'binary' ?
          this.sock._binary(b64ToBytes(m.data)) : m.data, String(m.seq));
      }
      if (body.closed) {
        this.stopped = true;
        this.sock._closed(body.closed.code, body.closed.reason || '', true);
      }
    }
  }
  send(data) { this.sock._post(this.sendUrl, data); }
  close(code, reason) {
    this.abort();
    this.sock._end(this.sendUrl);
    this.sock._closed(code, reason, true);
  }
  abort() {
    this.stopped = true;
    this.ctl.abort();
  }
}

export function connect(url, options) {
  return new Socket(url, options);
}

export default { connect, Socket };

// The counter demo without WebSocket (issue 16): Chromium reaches wsbridge
// only through Debian's nginx as a front proxy that does not pass the
// Upgrade (a plain proxy_pass), so examples/wsbridge.js must fall back
// to Server-Sent Events. Directly, the same page stays on WebSocket.
// Loopback ports only.
//
//   node --test tests/browser/fallback.test.mjs    (or: make browser-test)

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';

import { Workspace, captureConsole, freePort, portOpen, rawUpgrade,
  waitFor } from './lib.mjs';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) =>
  fs.existsSync(p));

// Prints 1, waits for the test's go-ahead (a file), then 2 to 10: the
// page shows 1 while the program still runs only if nothing buffers.
function routes(w, transports, extra = '') {
  const go = path.join(w.dir, 'go');
  const script = w.file('count.sh', '#!/bin/sh\necho 1\ni=0\n' +
    'while [ ! -e ' + go + ' ] && [ $i -lt 600 ]; do sleep 0.05; ' +
    'i=$((i+1)); done\nfor n in 2 3 4 5 6 7 8 9 10; do echo $n; done\n');
  fs.chmodSync(script, 0o755);
  return { go, ini: '[route /count]\nexec = ' + script + '\n' +
    'transports = ' + transports + '\n' + extra };
}

// nginx in front: HTTP/1.1 to wsbridge but no Upgrade/Connection headers
// (nginx drops hop-by-hop headers unless told to pass them), so every
// WebSocket handshake reaches wsbridge without them and is refused.
// Event streams are not buffered: proxy_buffering off here, and
// wsbridge's X-Accel-Buffering: no says the same per response.
async function nginx(w, upstreamPort, port = 0, name = 'nginx') {
  port = port || await freePort();
  const logs = path.join(w.dir, name);
  fs.mkdirSync(logs, { mode: 0o777 });
  fs.chmodSync(logs, 0o777);
  const conf = w.file(name + '.conf', `
daemon off;
pid ${logs}/nginx.pid;
error_log ${logs}/error.log info;
events { worker_connections 64; }
http {
    access_log ${logs}/access.log;
    client_body_temp_path ${logs}/client;
    proxy_temp_path ${logs}/proxy;
    fastcgi_temp_path ${logs}/fastcgi;
    uwsgi_temp_path ${logs}/uwsgi;
    scgi_temp_path ${logs}/scgi;
    server {
        listen 127.0.0.1:${port};
        location / {
            proxy_pass http://127.0.0.1:${upstreamPort};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_buffering off;
            proxy_read_timeout 1h;
        }
    }
}
`);
  const c = w.child(name, [NGINX, '-p', logs, '-e', path.join(logs,
    'error.log'), '-c', conf]);
  await waitFor(async () => {
    if (!c.running)
      throw new Error('nginx exited with ' + c.exitCode + ':\n' + c.log() +
        fs.readFileSync(path.join(logs, 'error.log'), 'utf8'));
    return portOpen(port);
  }, 10000, 'nginx listening on ' + port);
  c.port = port;
  c.base = 'http://127.0.0.1:' + port;
  return c;
}

// A front that swallows WebSocket handshakes (holds them, never answers)
// and passes every other request to wsbridge byte for byte: the upgrade
// stalls rather than fails, and only the client's timeout moves on.
function stallingProxy(w, upstreamPort) {
  return new Promise((resolve) => {
    const held = [];
    const srv = net.createServer((client) => {
      let head = Buffer.alloc(0);
      client.on('error', () => {});
      const onData = (d) => {
        head = Buffer.concat([head, d]);
        if (head.indexOf('\r\n\r\n') < 0) {
          if (head.length > 65536)
            client.destroy();
          return;
        }
        client.removeListener('data', onData);
        if (/^upgrade:\s*websocket/im.test(head.toString('latin1'))) {
          held.push(client);
          return;
        }
        const up = net.connect({ host: '127.0.0.1', port: upstreamPort },
          () => {
            up.write(head);
            client.pipe(up);
            up.pipe(client);
          });
        up.on('error', () => client.destroy());
        client.on('close', () => up.destroy());
      };
      client.on('data', onData);
    });
    srv.listen(0, '127.0.0.1', () => {
      w.defer(() => new Promise((done) => {
        held.forEach((c) => c.destroy());
        srv.close(() => done());
        setTimeout(done, 2000);
      }));
      resolve({ base: 'http://127.0.0.1:' + srv.address().port, held });
    });
  });
}

async function openCounter(w, browser, base, name, query = '') {
  const page = await browser.newPage();
  captureConsole(page, w, name);
  w.defer(async (failed) => {
    if (failed && !page.isClosed())
      await w.screenshot(page, name + '-failure');
  });
  await page.goto(base + '/count.html' + query, { timeout: 15000 });
  return page;
}

const text = (page, id) => page.evaluate((i) =>
  document.getElementById(i).textContent.trim(), id);

async function countsToTen(page, go) {
  // 1 arrives while the program waits: the stream is not buffered.
  await waitFor(async () => (await text(page, 'n')) === '1', 15000,
    async () => 'the counter at 1; it shows ' + await text(page, 'n'));
  assert.equal(await text(page, 'state'), 'open');
  fs.writeFileSync(go, '');
  await waitFor(async () => (await text(page, 'state')) === 'closed',
    15000, 'the session closed');
  assert.equal(await text(page, 'n'), '10');
  assert.match(await text(page, 'log'), /closed: 1000 \(normal closure\)/);
  // Every number once, in order: one log row per message.
  const rows = await page.evaluate(() => [...document.querySelectorAll(
    '#log .in')].map((r) => r.lastChild.textContent.split(/\s/)[0]));
  assert.deepEqual(rows, ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
}

test('counter over SSE through a proxy that refuses the Upgrade',
  { timeout: 120000, skip: NGINX ? false : 'nginx is not installed' },
  () => Workspace.run('fallback-sse', async (w) => {
    const { go, ini } = routes(w, 'websocket, sse');
    const srv = await w.wsbridge(ini);
    const ngx = await nginx(w, srv.port);
    // The proxy really breaks WebSocket: a handshake through it fails.
    const up = await rawUpgrade(ngx.port, '/count');
    // (wsbridge sees Sec-WebSocket-Key without Upgrade: 400.)
    assert.ok(up.status >= 400, up.head);
    const browser = await w.browser();
    const page = await openCounter(w, browser, ngx.base, 'fallback-sse');
    await countsToTen(page, go);
    assert.equal(await text(page, 'transport'), 'sse');
    const tried = await page.evaluate(() => window.wsbSocket.tried);
    assert.equal(tried.length, 1);
    assert.equal(tried[0].transport, 'websocket');
    // wsbridge saw an SSE client and no WebSocket.
    assert.match(srv.log(), /sse session [0-9a-f]{8}\.\.\./);
    assert.doesNotMatch(srv.log(), /status=101/);
  }));

test('the same page directly stays on WebSocket',
  { timeout: 120000 }, () => Workspace.run('fallback-direct', async (w) => {
    const { go, ini } = routes(w, 'websocket, sse');
    const srv = await w.wsbridge(ini);
    const browser = await w.browser();
    const page = await openCounter(w, browser, srv.base, 'fallback-direct');
    await countsToTen(page, go);
    assert.equal(await text(page, 'transport'), 'websocket');
    assert.deepEqual(await page.evaluate(() => window.wsbSocket.tried), []);
  }));

test('a stalled upgrade falls back after the timeout',
  { timeout: 120000 }, () => Workspace.run('fallback-stall', async (w) => {
    const { go, ini } = routes(w, 'websocket, sse');
    const srv = await w.wsbridge(ini);
    const front = await stallingProxy(w, srv.port);
    const browser = await w.browser();
    const page = await openCounter(w, browser, front.base, 'fallback-stall');
    await countsToTen(page, go);
    assert.equal(await text(page, 'transport'), 'sse');
    const tried = await page.evaluate(() => window.wsbSocket.tried);
    assert.equal(tried.length, 1);
    assert.match(tried[0].error, /no answer in 5000 ms/);
    assert.ok(front.held.length >= 1, 'the handshake was held');
  }));

// wsbridge.js on its own: binary events as bytes, the close event's code
// and reason, and no transport at all when none works.
test('wsbridge.js over SSE: binary messages, close code, no transport',
  { timeout: 120000 }, () => Workspace.run('fallback-lib', async (w) => {
    const bin = w.file('bin.sh', '#!/bin/sh\nprintf \'\\000\\001\\377\'\n' +
      'exit 3\n');
    fs.chmodSync(bin, 0o755);
    const srv = await w.wsbridge('[route /bin]\nexec = ' + bin + '\n' +
      'mode = binary\ntransports = sse\n\n[route /ws]\necho = yes\n');
    const browser = await w.browser();
    const page = await browser.newPage();
    captureConsole(page, w, 'fallback-lib');
    await page.goto(srv.base + '/count.html', { timeout: 15000 });
    const r = await page.evaluate(async () => {
      const m = await import('/wsbridge.js');
      const run = (url, opts) => new Promise((resolve) => {
        const s = m.connect(url, opts);
        const got = [];
        s.onmessage = (e) => got.push(...new Uint8Array(e.data));
        s.onclose = (e) => resolve({ got, code: e.code, reason: e.reason,
          transport: s.transport, tried: s.tried });
      });
      return {
        bin: await run('/bin', { transports: ['websocket', 'sse'],
          binaryType: 'arraybuffer' }),
        // /ws has no sse and nothing answers poll: both fail.
        none: await run('/ws', { transports: ['sse', 'poll'] }),
      };
    });
    assert.equal(r.bin.transport, 'sse');
    assert.equal(r.bin.tried[0].transport, 'websocket');
    assert.deepEqual(r.bin.got, [0, 1, 255]);
    assert.equal(r.bin.code, 1011);
    assert.equal(r.bin.reason, 'exit 3');
    assert.equal(r.none.transport, null);
    assert.equal(r.none.code, 1006);
    assert.deepEqual(r.none.tried.map((t) => t.transport), ['sse', 'poll']);
  }));

test('echo over SSE and POST through a proxy that refuses the Upgrade',
  { timeout: 120000, skip: NGINX ? false : 'nginx is not installed' },
  () => Workspace.run('fallback-echo', async (w) => {
    const srv = await w.wsbridge('[route /echo]\necho = yes\n' +
      'transports = websocket, sse\n');
    const ngx = await nginx(w, srv.port);
    const browser = await w.browser();
    const page = await browser.newPage();
    captureConsole(page, w, 'fallback-echo');
    w.defer(async (failed) => {
      if (failed && !page.isClosed())
        await w.screenshot(page, 'fallback-echo-failure');
    });
    await page.goto(ngx.base + '/echo.html', { timeout: 15000 });
    await waitFor(async () => (await text(page, 'state')) === 'open', 15000,
      'the echo page open');
    assert.equal(await text(page, 'transport'), 'sse');
    const words = ['one', 'tw\u00f6', 'three'];
    for (const word of words) {
      await page.fill('#msg', word);
      await page.click('#send');
    }
    const echoed = () => page.evaluate(() => [...document.querySelectorAll(
      '#log .in')].map((r) => r.lastChild.textContent.replace(/^\u2190 /,
      '').replace(/\s+\(\d+ ms\)$/, '')));
    await waitFor(async () => (await echoed()).length === words.length,
      15000, async () => 'three echoes; got ' + JSON.stringify(await echoed()));
    assert.deepEqual(await echoed(), words);
  }));

test('the dashboard over SSE through a proxy that refuses the Upgrade',
  { timeout: 120000, skip: NGINX ? false : 'nginx is not installed' },
  () => Workspace.run('fallback-vmstat', async (w) => {
    const srv = await w.wsbridge('[route /vmstat]\nexec = vmstat -n 1\n' +
      'transports = websocket, sse\n');
    const ngx = await nginx(w, srv.port);
    const browser = await w.browser();
    const page = await browser.newPage();
    captureConsole(page, w, 'fallback-vmstat');
    await page.goto(ngx.base + '/vmstat.html', { timeout: 15000 });
    // A sample after the first line (the average since boot) is drawn.
    await waitFor(async () => /^\d+%$/.test(await text(page, 'us')), 15000,
      'a CPU sample shown');
    assert.equal(await text(page, 'transport'), 'sse');
  }));

// Chromium sends no Origin on a same-origin EventSource (Fetch adds it
// only across origins), but Sec-Fetch-Site: same-origin: a route that
// checks origins must still let its own pages in.
test('a same_origin route over SSE from its own page',
  { timeout: 120000 }, () => Workspace.run('fallback-same-origin',
    async (w) => {
      const { go, ini } = routes(w, 'websocket, sse', 'same_origin = yes\n');
      const srv = await w.wsbridge(ini);
      const browser = await w.browser();
      const page = await openCounter(w, browser, srv.base,
        'fallback-same-origin', '?transports=sse');
      await countsToTen(page, go);
      assert.equal(await text(page, 'transport'), 'sse');
    }));

test('counter over long polling through a proxy that refuses the Upgrade',
  { timeout: 120000 },
  () => Workspace.run('fallback-poll', async (w) => {
    const { go, ini } = routes(w, 'websocket, poll');
    const srv = await w.wsbridge(ini);
    const ngx = await nginx(w, srv.port);
    const browser = await w.browser();
    const page = await openCounter(w, browser, ngx.base, 'fallback-poll',
      '?transports=websocket,poll');
    await countsToTen(page, go);
    assert.equal(await text(page, 'transport'), 'poll');
  }));

// A stream cut on the server's side (the front proxy stops and comes
// back on the same port): wsbridge.js reopens it as ?session=ID with
// last_event_id= and wsbridge goes on where it stopped, the program
// untouched: every number once, in order, the last after the cut.
test('an event stream cut by the proxy resumes without loss',
  { timeout: 120000, skip: NGINX ? false : 'nginx is not installed' },
  () => Workspace.run('fallback-resume', async (w) => {
    const go = path.join(w.dir, 'go');
    const script = w.file('count.sh', '#!/bin/sh\nfor n in 1 2 3 4 5; do ' +
      'echo $n; done\ni=0\nwhile [ ! -e ' + go + ' ] && [ $i -lt 1200 ]; ' +
      'do sleep 0.05; i=$((i+1)); done\nfor n in 6 7 8 9 10; do echo $n; ' +
      'done\n');
    fs.chmodSync(script, 0o755);
    const srv = await w.wsbridge('[route /count]\nexec = ' + script + '\n' +
      'transports = websocket, sse\n');
    const ngx = await nginx(w, srv.port);
    const browser = await w.browser();
    const page = await openCounter(w, browser, ngx.base, 'fallback-resume');
    await waitFor(async () => (await text(page, 'n')) === '5', 15000,
      async () => 'the counter at 5; it shows ' + await text(page, 'n'));
    assert.equal(await text(page, 'transport'), 'sse');
    await ngx.stop();
    await waitFor(async () => /the stream dropped: kept for a reconnect/
      .test(srv.log()), 15000, 'wsbridge saw the stream cut');
    // Output that comes while nobody is attached waits for the reconnect.
    fs.writeFileSync(go, '');
    await nginx(w, srv.port, ngx.port, 'nginx2');
    await waitFor(async () => (await text(page, 'state')) === 'closed',
      30000, 'the session closed');
    assert.match(srv.log(), /sse session [0-9a-f]{8}\.\.\. resumed after 5/);
    assert.equal(await text(page, 'n'), '10');
    assert.match(await text(page, 'log'), /closed: 1000 \(normal closure\)/);
    const rows = await page.evaluate(() => [...document.querySelectorAll(
      '#log .in')].map((r) => r.lastChild.textContent.split(/\s/)[0]));
    assert.deepEqual(rows, ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
  }));

// A front that passes every request through byte for byte, until cut():
// then every stream is closed and the next request gets a 502.
// wsbridge.js opens the stream again itself (at once: the 502; then 1 s
// later), with ?session=ID&last_event_id=SEQ.
function cuttingProxy(w, upstreamPort) {
  return new Promise((resolve) => {
    const live = new Set();
    const front = { refuse: 0, urls: [] };
    const srv = net.createServer((client) => {
      client.on('error', () => {});
      let head = Buffer.alloc(0);
      const onData = (d) => {
        head = Buffer.concat([head, d]);
        if (head.indexOf('\r\n\r\n') < 0)
          return;
        client.removeListener('data', onData);
        front.urls.push(head.toString('latin1').split(' ')[1]);
        if (front.refuse > 0) {
          front.refuse--;
          client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n' +
            'Connection: close\r\n\r\n');
          return;
        }
        const up = net.connect({ host: '127.0.0.1', port: upstreamPort },
          () => {
            up.write(head);
            client.pipe(up);
            up.pipe(client);
          });
        const pair = { client, up };
        live.add(pair);
        up.on('error', () => client.destroy());
        up.on('close', () => { live.delete(pair); client.destroy(); });
        client.on('close', () => { live.delete(pair); up.destroy(); });
      };
      client.on('data', onData);
    });
    front.cut = () => {
      front.refuse = 1;
      for (const p of live) { p.client.destroy(); p.up.destroy(); }
    };
    srv.listen(0, '127.0.0.1', () => {
      w.defer(() => new Promise((done) => {
        front.cut();
        srv.close(() => done());
        setTimeout(done, 2000);
      }));
      front.base = 'http://127.0.0.1:' + srv.address().port;
      resolve(front);
    });
  });
}

test('wsbridge.js reopens a stream the browser gave up on',
  { timeout: 120000 }, () => Workspace.run('fallback-reopen', async (w) => {
    const go = path.join(w.dir, 'go');
    const script = w.file('count.sh', '#!/bin/sh\nfor n in 1 2 3 4 5; do ' +
      'echo $n; done\ni=0\nwhile [ ! -e ' + go + ' ] && [ $i -lt 1200 ]; ' +
      'do sleep 0.05; i=$((i+1)); done\nfor n in 6 7 8 9 10; do echo $n; ' +
      'done\n');
    fs.chmodSync(script, 0o755);
    const srv = await w.wsbridge('[route /count]\nexec = ' + script + '\n' +
      'transports = websocket, sse\n');
    const front = await cuttingProxy(w, srv.port);
    const browser = await w.browser();
    const page = await openCounter(w, browser, front.base, 'fallback-reopen',
      '?transports=sse');
    await waitFor(async () => (await text(page, 'n')) === '5', 15000,
      async () => 'the counter at 5; it shows ' + await text(page, 'n'));
    front.cut();
    await waitFor(async () => /the stream dropped: kept for a reconnect/
      .test(srv.log()), 15000, 'wsbridge saw the stream cut');
    fs.writeFileSync(go, '');
    await waitFor(async () => (await text(page, 'state')) === 'closed',
      30000, 'the session closed');
    assert.match(srv.log(), /sse session [0-9a-f]{8}\.\.\. resumed after 5/);
    // The id is the sequence number alone; ?session= names the stream.
    const reopened = front.urls.filter((u) => /[?&]last_event_id=5(&|$)/
      .test(u));
    assert.equal(reopened.length, 2, front.urls.join(' '));
    assert.ok(reopened.every((u) => /[?&]session=[0-9a-f]{32}(&|$)/.test(u)),
      front.urls.join(' '));
    assert.match(await text(page, 'log'), /closed: 1000 \(normal closure\)/);
    const rows = await page.evaluate(() => [...document.querySelectorAll(
      '#log .in')].map((r) => r.lastChild.textContent.split(/\s/)[0]));
    assert.deepEqual(rows, ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
  }));

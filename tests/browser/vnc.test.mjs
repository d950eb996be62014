// examples/vnc/ (noVNC) in real Chromium through wsbridge connect routes
// (issue 5): Xvfb painted a known colour by xsetroot, x11vnc (or Xvnc) on
// a loopback port, the canvas checked pixel by pixel; a backend that is
// down fails with 502, a token route with a wrong token with 404.
//
//   node --test tests/browser/vnc.test.mjs    (or: make browser-test)

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'node:test';

import { Workspace, captureConsole, freePort, portOpen, rawUpgrade,
  waitFor } from './lib.mjs';

// xsetroot -solid: the whole root window, so the whole framebuffer.
const COLOUR = '#FF8000';
const RGB = [0xff, 0x80, 0x00];
const WIDTH = 640;
const HEIGHT = 480;

function have(cmd) {
  try {
    execFileSync('sh', ['-c', 'command -v ' + cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// An X display :99 or above whose lock and socket are free; the server
// is ready when its socket appears. A display taken meanwhile: next one.
async function startXvfb(w) {
  for (let n = 99; n < 140; n++) {
    if (fs.existsSync('/tmp/.X' + n + '-lock') ||
        fs.existsSync('/tmp/.X11-unix/X' + n))
      continue;
    const x = w.child('Xvfb-' + n, ['Xvfb', ':' + n, '-screen', '0',
      WIDTH + 'x' + HEIGHT + 'x24', '-nolisten', 'tcp', '-noreset']);
    const ok = await waitFor(() => !x.running ? 'exited' :
      fs.existsSync('/tmp/.X11-unix/X' + n) ? 'up' : null, 10000,
    'Xvfb :' + n + ' socket');
    if (ok === 'up')
      return ':' + n;
  }
  throw new Error('no free X display from :99 to :139');
}

// x11vnc serving the Xvfb (preferred), else Xvnc as its own X server.
async function startVnc(w) {
  const port = await freePort();
  let display;
  if (have('x11vnc')) {
    display = await startXvfb(w);
    w.child('x11vnc', ['x11vnc', '-display', display, '-rfbport',
      String(port), '-localhost', '-nopw', '-forever', '-shared',
      '-desktop', 'wsbridge-test']);
  } else {
    let n = 99;
    while (fs.existsSync('/tmp/.X' + n + '-lock'))
      n++;
    display = ':' + n;
    w.child('Xvnc', ['Xvnc', display, '-geometry', WIDTH + 'x' + HEIGHT,
      '-depth', '24', '-rfbport', String(port), '-localhost', '-nolisten',
      'tcp', '-SecurityTypes', 'None', '-desktop', 'wsbridge-test']);
    await waitFor(() => fs.existsSync('/tmp/.X11-unix/X' + n), 10000,
      'Xvnc ' + display + ' socket');
  }
  execFileSync('xsetroot', ['-display', display, '-solid', COLOUR],
    { timeout: 10000 });
  await waitFor(() => portOpen(port), 15000, 'VNC server on ' + port);
  return port;
}

// Pixels of noVNC's canvas at a 5x5 grid (the cursor may cover one).
async function canvasSamples(page) {
  return page.evaluate(() => {
    const c = document.querySelector('#screen canvas');
    if (!c || c.width === 0)
      return null;
    const ctx = c.getContext('2d');
    const out = [];
    for (let i = 1; i <= 5; i++)
      for (let j = 1; j <= 5; j++) {
        const x = Math.floor(c.width * i / 6);
        const y = Math.floor(c.height * j / 6);
        out.push(Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3)));
      }
    return { width: c.width, height: c.height, px: out };
  });
}

const close = (a, b) => a.every((v, i) => Math.abs(v - b[i]) <= 8);

async function openVnc(w, browser, url, name) {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  captureConsole(page, w, name);
  const wsErrors = [];
  page.on('websocket', (ws) => ws.on('socketerror', (e) => wsErrors.push(e)));
  w.defer(async (failed) => {
    if (failed && !page.isClosed())
      await w.screenshot(page, name + '-failure');
  });
  await page.goto(url, { timeout: 15000 });
  return { page, wsErrors };
}

const vncState = (page) => page.evaluate(() => window.wsbVnc &&
  window.wsbVnc.state);

async function expectColour(w, page, name) {
  await waitFor(async () => (await vncState(page)) === 'connected', 15000,
    async () => 'noVNC connected; state ' + await vncState(page));
  assert.equal(await page.textContent('#status'), 'connected');
  // The first framebuffer update may follow the connect event.
  let last;
  await waitFor(async () => {
    last = await canvasSamples(page);
    return last && last.px.filter((p) => close(p, RGB)).length >= 23;
  }, 10000, () => 'canvas shows ' + COLOUR + '; got ' + JSON.stringify(last));
  assert.equal(last.width, WIDTH);
  assert.equal(last.height, HEIGHT);
  await w.screenshot(page, name);
}

test('vnc: noVNC through a connect route shows the X screen',
  { timeout: 120000 }, () => Workspace.run('vnc', async (w) => {
    const vncPort = await startVnc(w);
    // Nothing listens on downPort: what conf/wsbridge.ini's /vnc route
    // does when no VNC server runs (502 on the upgrade).
    const downPort = await freePort();
    const srv = await w.wsbridge(`
[route /vnc]
connect = 127.0.0.1:${vncPort}
protocols = binary

[route /vnc-down]
connect = 127.0.0.1:${downPort}
protocols = binary
`);
    const browser = await w.browser();
    const { page } = await openVnc(w, browser, srv.base + '/vnc/', 'vnc');
    await expectColour(w, page, 'vnc');
    assert.match(await page.title(), /wsbridge-test/);

    const down = await openVnc(w, browser, srv.base + '/vnc/?path=/vnc-down',
      'vnc-down');
    await waitFor(async () => (await vncState(down.page)) === 'failed', 15000,
      async () => 'noVNC failed; state ' + await vncState(down.page));
    await waitFor(() => down.wsErrors.length > 0, 5000,
      'a WebSocket error event');
    assert.match(down.wsErrors.join('\n'), /502/);
  }));

test('vnc: a targets file routes by ?token=, a wrong one is 404',
  { timeout: 120000 }, () => Workspace.run('vnc-token', async (w) => {
    const vncPort = await startVnc(w);
    const targets = w.file('targets',
      '# token: host:port\nvnc-good: 127.0.0.1:' + vncPort + '\n');
    const srv = await w.wsbridge(`
[route /vnct]
targets = ${targets}
protocols = binary
`);
    const browser = await w.browser();
    const wrong = 'wrong-token-4f9c2a7e51';

    // The upgrade itself: 404 with a body (websockify just drops it).
    const r = await rawUpgrade(srv.port, '/vnct?token=' + wrong, 'binary');
    assert.equal(r.status, 404, 'upgrade with a wrong token: ' + r.head);
    assert.ok(r.body.length > 0, '404 has a body');

    // The page: the browser sees the failed upgrade, noVNC reports it.
    const bad = await openVnc(w, browser,
      srv.base + '/vnc/?path=/vnct&token=' + wrong, 'vnc-wrong-token');
    await waitFor(async () => (await vncState(bad.page)) === 'failed', 15000,
      async () => 'noVNC failed; state ' + await vncState(bad.page));
    assert.equal(await bad.page.textContent('#status'), 'failed');
    await waitFor(() => bad.wsErrors.length > 0, 5000,
      'a WebSocket error event');
    assert.match(bad.wsErrors.join('\n'), /404/);
    await w.screenshot(bad.page, 'vnc-wrong-token');

    // The right token reaches the VNC server.
    const good = await openVnc(w, browser,
      srv.base + '/vnc/?path=/vnct&token=vnc-good', 'vnc-good-token');
    await expectColour(w, good.page, 'vnc-good-token');

    // SPEC: a token is never logged in full.
    assert.ok(!srv.log().includes(wrong), 'wrong token logged in full');
    assert.ok(!srv.log().includes('vnc-good'), 'good token logged in full');
  }));

// The Debian package's demo site in real Chromium (issue 17): the .deb is
// installed with apt, its own /etc/wsbridge/wsbridge.ini is run as the
// wsbridge user on a free loopback port (--port keeps the file's
// 127.0.0.1), every demo page is loaded, every link and every asset must
// answer 200, the terminal page must connect, config files must not be
// served; then the package is purged.
//
// The .deb: $WSB_DEB, or build/wsbridge_VERSION_ARCH.deb when it is newer
// than every tracked file, or a fresh `make deb`. Needs root (apt); skipped
// when a wsbridge package or user is already on the machine.
// WSB_DEB_INSTALLED=1: the package is installed already and stays so (make
// test runs this file from the integration suite's package test, between
// its apt install and purge, so that the .deb is installed once); fails
// when it is not installed.
//
//   node --test tests/browser/package.test.mjs    (or: make browser-test)

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';

import { REPO, Workspace, captureConsole, freePort, portOpen, waitFor }
  from './lib.mjs';

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const INSTALLED = process.env.WSB_DEB_INSTALLED === '1';
const PAGES = ['/', '/echo.html', '/count.html', '/vmstat.html',
  '/terminal/', '/vnc/'];
// In examples/ but not part of the site: never served by the package.
const NOT_SERVED = ['/package.json', '/package-lock.json', '/browser.ini',
  '/haproxy/haproxy.cfg', '/nginx/wsbridge.conf', '/count.sh',
  '/node_modules/@xterm/xterm/package.json'];

function sh(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8',
    timeout: opts.timeout || 120000, cwd: opts.cwd || REPO,
    env: opts.env || process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, out: (r.stdout || '') + (r.stderr || '') };
}

function whyNot() {
  if (process.getuid() !== 0)
    return 'installing a .deb needs root';
  if (sh(['dpkg-query', '-W', '-f=${Status}', 'wsbridge']).out
    .includes('ok installed'))
    return 'a wsbridge package is already installed; not touching it';
  if (sh(['getent', 'passwd', 'wsbridge']).code === 0 ||
      sh(['getent', 'group', 'wsbridge']).code === 0)
    return 'a wsbridge user or group exists that no package made';
  return null;
}

// build/wsbridge_VERSION_ARCH.deb, or null.
function builtDeb() {
  const version = /#define\s+WSBRIDGE_VERSION\s+"([^"]+)"/.exec(
    fs.readFileSync(path.join(REPO, 'src', 'version.h'), 'utf8'))[1];
  const deb = fs.readdirSync(path.join(REPO, 'build')).find((f) =>
    f.startsWith('wsbridge_' + version + '_') && f.endsWith('.deb'));
  return deb ? path.join(REPO, 'build', deb) : null;
}

// The built .deb when it is newer than every tracked file, or null.
function freshDeb() {
  const p = builtDeb();
  if (!p)
    return null;
  const built = fs.statSync(p).mtimeMs;
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: REPO,
    encoding: 'utf8' }).split('\0').filter((f) => f);
  for (const f of files) {
    try {
      if (fs.statSync(path.join(REPO, f)).mtimeMs > built)
        return null;
    } catch {
      // deleted in the work tree
    }
  }
  return p;
}

function buildDeb() {
  if (process.env.WSB_DEB)
    return process.env.WSB_DEB;
  const fresh = freshDeb();
  if (fresh)
    return fresh;
  const env = { ...process.env,
    DEB_BUILD_OPTIONS: 'nocheck noddebs parallel=2' };
  for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES'])
    delete env[k];
  const r = sh(['make', '--no-print-directory', 'deb'], { env,
    timeout: 900000 });
  assert.equal(r.code, 0, 'make deb:\n' + r.out.slice(-4000));
  const deb = builtDeb();
  assert.ok(deb, 'make deb left no .deb in build/');
  return deb;
}

// GET url with node's http (no browser cache); status and body.
function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode,
        body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout: ' + url)));
    req.on('error', reject);
  });
}

// Load a page; every response it caused, its links and its assets.
async function loadPage(w, browser, base, p) {
  const page = await browser.newPage();
  const name = 'page' + p.replace(/[^a-z]+/g, '-');
  captureConsole(page, w, name);
  const responses = [];
  const failed = [];
  const errors = [];
  page.on('response', (r) => responses.push({ url: r.url(),
    status: r.status() }));
  page.on('requestfailed', (r) => failed.push(r.url()));
  page.on('pageerror', (e) => errors.push(e.message));
  w.defer(async (bad) => {
    if (bad && !page.isClosed())
      await w.screenshot(page, name + '-failure');
  });
  await page.goto(base + p, { waitUntil: 'load', timeout: 20000 });
  const refs = await page.evaluate(() => ({
    links: [...document.querySelectorAll('a[href]')].map((a) => a.href),
    assets: [...document.querySelectorAll(
      'link[href], script[src], img[src]')].map((e) => e.href || e.src),
  }));
  return { page, responses, failed, errors, ...refs };
}

test('package: the installed demo site, every link and asset, terminal',
  { timeout: 1500000 }, async (t) => {
    const why = INSTALLED ? null : whyNot();
    if (why) {
      t.skip(why);
      return;
    }
    await Workspace.run('package', async (w) => {
      if (INSTALLED) {
        assert.match(sh(['dpkg-query', '-W', '-f=${Status}', 'wsbridge']).out,
          /ok installed/, 'WSB_DEB_INSTALLED=1 but no wsbridge package');
      } else {
        const deb = buildDeb();
        w.defer(() => {
          const r = sh(['apt-get', 'purge', '-y', 'wsbridge'],
            { env: APT_ENV, timeout: 300000 });
          if (r.code !== 0)
            console.error('# apt-get purge:\n' + r.out);
        });
        const inst = sh(['apt-get', 'install', '-y',
          '--no-install-recommends', path.resolve(deb)],
        { env: APT_ENV, timeout: 300000 });
        assert.equal(inst.code, 0, 'apt-get install:\n' +
          inst.out.slice(-4000));
      }

      // The shipped config as systemd would run it, on a free port.
      const port = await freePort();
      const uid = Number(sh(['id', '-u', 'wsbridge']).out.trim());
      const gid = Number(sh(['id', '-g', 'wsbridge']).out.trim());
      const srv = w.child('wsbridge', ['/usr/bin/wsbridge', '-c',
        '/etc/wsbridge/wsbridge.ini', '--port', String(port)],
      { cwd: '/', uid, gid, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } });
      await waitFor(async () => {
        if (!srv.running)
          throw new Error('wsbridge exited with ' + srv.exitCode + ':\n' +
            srv.log());
        return portOpen(port);
      }, 10000, 'installed wsbridge listening on ' + port);
      assert.match(srv.log(), new RegExp('listening on http://127\\.0\\.0\\.1:' +
        port));
      assert.doesNotMatch(srv.log(), /warning/);
      const base = 'http://127.0.0.1:' + port;

      for (const p of NOT_SERVED)
        assert.equal((await get(base + p)).status, 404, p + ' is served');

      const browser = await w.browser();
      const links = new Set();
      for (const p of PAGES) {
        const r = await loadPage(w, browser, base, p);
        assert.deepEqual(r.failed, [], p + ': requests failed');
        assert.deepEqual(r.errors, [], p + ': page errors');
        assert.ok(r.responses.length > 0, p + ': no responses');
        for (const res of r.responses)
          assert.equal(res.status, 200, p + ': ' + res.url);
        for (const a of r.assets) {
          assert.ok(a.startsWith(base + '/'), p + ': external ' + a);
          assert.equal((await get(a)).status, 200, p + ': asset ' + a);
        }
        assert.ok(r.assets.some((a) => /favicon\.svg$/.test(a)),
          p + ': no favicon');
        for (const l of r.links)
          links.add(l);
        if (p === '/terminal/') {
          // top (the packaged terminal, not a shell) on xterm.js
          await waitFor(() => r.page.evaluate(() =>
            document.getElementById('status').dataset.state ===
              'connected'), 15000, 'terminal status "connected"');
          await waitFor(() => r.page.evaluate(() => {
            const b = window.wsbTerminal.term.buffer.active;
            for (let i = 0; i < b.length; i++)
              if (/^Tasks:/.test(b.getLine(i).translateToString(true)))
                return true;
            return false;
          }), 15000, 'top on the terminal page');
        }
        if (p === '/vnc/') {
          // nothing on 5900: the page loads and says why it failed
          await waitFor(() => r.page.evaluate(() =>
            window.wsbVnc.state === 'failed'), 15000, 'VNC failure shown');
        }
        await r.page.close();
      }
      const nav = ['/terminal/', '/vnc/', '/echo.html', '/count.html',
        '/vmstat.html', '/'];
      for (const n of nav)
        assert.ok(links.has(base + n), 'no link to ' + n);
      for (const l of links) {
        assert.ok(l.startsWith(base + '/'), 'external link ' + l);
        assert.equal((await get(l)).status, 200, 'link ' + l);
      }

      // A page from another origin may not open the terminal.
      const other = await new Promise((resolve, reject) => {
        const req = http.get(base + '/terminal', { timeout: 5000, headers: {
          Connection: 'Upgrade', Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'Sec-WebSocket-Protocol': 'tty',
          Origin: 'http://attacker.example' } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('upgrade', (res, sock) => { sock.destroy(); resolve(101); });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
      });
      assert.equal(other, 403);
    });
  });

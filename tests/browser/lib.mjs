// Helpers for the browser tests: wsbridge on a free loopback port with a
// temp config, Debian's Chromium driven by playwright-core, X and VNC
// servers, bounded polling and screenshots kept on failure.
//
// The binary is $WSBRIDGE_BIN (default <repo>/build/wsbridge), the
// browser $CHROMIUM (default /usr/bin/chromium); nothing is downloaded.
// WSB_KEEP=1 keeps each test's temp dir (screenshots, logs) and prints it.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { after } from 'node:test';

import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
  '..', '..');
export const BIN = process.env.WSBRIDGE_BIN ||
  path.join(REPO, 'build', 'wsbridge');
export const EXAMPLES = path.join(REPO, 'examples');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Flags that work in a container without a GPU or a network.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One Chromium per test file (node --test runs each file in a process of
// its own), launched by the first test that asks: a launch costs about
// 1.5 CPU s. Each test gets its pages in browser contexts of their own
// (newPage makes one: fresh cookies, storage and cache) and closes them;
// a browser that went away is launched again.
let chromiumProc = null;
async function sharedChromium() {
  if (chromiumProc) {
    const b = await chromiumProc.catch(() => null);
    if (b && b.isConnected())
      return b;
  }
  chromiumProc = chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    timeout: 60000,
  });
  return chromiumProc;
}
after(async () => {
  const b = chromiumProc && await chromiumProc.catch(() => null);
  if (b)
    await b.close();
});

// Poll fn until it returns a truthy value; throw what() after ms.
export async function waitFor(fn, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v)
        return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const msg = typeof what === 'function' ? await what() : what;
      throw new Error('timed out after ' + ms + ' ms: ' + msg +
        (last ? ' (last error: ' + last.message + ')' : ''));
    }
    await sleep(50);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function portOpen(port) {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.setTimeout(300);
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
    c.on('timeout', () => { c.destroy(); resolve(false); });
  });
}

// A child in a process group of its own, output to a log file; stop()
// sends SIGTERM to the group, then SIGKILL after a bounded wait.
export class Child {
  constructor(name, argv, opts) {
    this.name = name;
    this.logPath = path.join(opts.dir, name + '.log');
    const fd = fs.openSync(this.logPath, 'w');
    this.proc = spawn(argv[0], argv.slice(1), {
      cwd: opts.cwd || opts.dir,
      env: opts.env || process.env,
      stdio: ['ignore', fd, fd],
      detached: true,
      // another user (the package test runs the service's user)
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
    });
    fs.closeSync(fd);
    this.exitCode = null;
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, sig) => {
        this.exitCode = code !== null ? code : 128 + os.constants.signals[sig];
        resolve(this.exitCode);
      });
      this.proc.on('error', (e) => {
        this.exitCode = 127;
        fs.appendFileSync(this.logPath, String(e) + '\n');
        resolve(127);
      });
    });
  }

  get running() {
    return this.exitCode === null;
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  async stop() {
    if (!this.running)
      return;
    const kill = (sig) => {
      try {
        process.kill(-this.proc.pid, sig);
      } catch {
        // already gone
      }
    };
    kill('SIGTERM');
    const t = await Promise.race([this.exited, sleep(5000).then(() => null)]);
    if (t === null) {
      kill('SIGKILL');
      await Promise.race([this.exited, sleep(2000)]);
    }
  }
}

// A temp dir per test, removed at the end unless the test failed or
// WSB_KEEP=1; cleanups run in reverse order either way.
export class Workspace {
  constructor(name) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsb-browser-' + name +
      '-'));
    this.cleanups = [];
    this.screenshots = [];
    this.children = [];
  }

  defer(fn) {
    this.cleanups.push(fn);
  }

  file(name, text) {
    const p = path.join(this.dir, name);
    fs.writeFileSync(p, text);
    return p;
  }

  async screenshot(page, name) {
    const p = path.join(this.dir, name + '.png');
    try {
      await page.screenshot({ path: p, timeout: 10000 });
      this.screenshots.push(p);
    } catch (e) {
      console.error('# screenshot ' + name + ' failed: ' + e.message);
    }
    return p;
  }

  // Run body(ws); on failure print the logs and screenshot paths.
  static async run(name, body) {
    const w = new Workspace(name);
    let failed = false;
    try {
      await body(w);
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      for (const fn of w.cleanups.reverse()) {
        try {
          await fn(failed);
        } catch (e) {
          console.error('# cleanup: ' + e.message);
        }
      }
      if (failed) {
        for (const c of w.children)
          console.error('# ' + c.name + ' log (' + c.logPath + '):\n' +
            c.log().split('\n').slice(-60).map((l) => '#   ' + l).join('\n'));
      }
      if (failed || process.env.WSB_KEEP === '1') {
        console.error('# ' + name + ': files kept in ' + w.dir);
        for (const s of w.screenshots)
          console.error('# screenshot: ' + s);
      } else {
        fs.rmSync(w.dir, { recursive: true, force: true });
      }
    }
  }

  child(name, argv, opts = {}) {
    const c = new Child(name, argv, { dir: this.dir, ...opts });
    this.children.push(c);
    this.defer(() => c.stop());
    return c;
  }

  // wsbridge with [server] listen and static_dir = examples/ prepended to
  // routes (an ini fragment); ready when a plain GET answers.
  async wsbridge(routes, { staticDir = EXAMPLES } = {}) {
    const port = await freePort();
    const conf = this.file('wsbridge.ini',
      '[server]\n' +
      'listen = 127.0.0.1:' + port + '\n' +
      'static_dir = ' + staticDir + '\n' +
      'log_level = debug\n\n' + routes);
    const c = this.child('wsbridge', [BIN, '-c', conf], { cwd: REPO });
    c.port = port;
    c.base = 'http://127.0.0.1:' + port;
    await waitFor(async () => {
      if (!c.running)
        throw new Error('wsbridge exited with ' + c.exitCode + ':\n' + c.log());
      return portOpen(port);
    }, 10000, 'wsbridge listening on ' + port);
    return c;
  }

  // Debian's Chromium through playwright-core: the file's shared browser,
  // seen through newPage() only; every page this test opened (and its
  // context) is closed at the end of the test.
  async browser() {
    const b = await sharedChromium();
    const pages = [];
    this.defer(async () => {
      for (const p of pages)
        await p.context().close();
    });
    return {
      newPage: async (opts) => {
        const p = await b.newPage(opts);
        pages.push(p);
        return p;
      },
    };
  }
}

// The page's console and errors, for the failure output.
export function captureConsole(page, w, name) {
  const p = path.join(w.dir, name + '-console.log');
  const out = (s) => fs.appendFileSync(p, s + '\n');
  page.on('console', (m) => out(m.type() + ': ' + m.text()));
  page.on('pageerror', (e) => out('pageerror: ' + e.message));
  page.on('requestfailed', (r) => out('requestfailed: ' + r.url() + ' ' +
    (r.failure() ? r.failure().errorText : '')));
  w.defer((failed) => {
    if (failed && fs.existsSync(p))
      console.error('# ' + name + ' console:\n' + fs.readFileSync(p, 'utf8')
        .split('\n').map((l) => '#   ' + l).join('\n'));
  });
}

// Lines of a process's /proc/PID/stat, or null when it is gone.
export function procState(pid) {
  try {
    const s = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
    // "pid (comm) S ...": comm may hold spaces and parentheses.
    const close = s.lastIndexOf(')');
    return { comm: s.slice(s.indexOf('(') + 1, close),
      state: s.slice(close + 2, close + 3) };
  } catch {
    return null;
  }
}

// A raw HTTP/1.1 WebSocket upgrade request; resolves with the status code,
// headers and body the server answered (bounded).
export function rawUpgrade(port, target, protocols) {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error('no complete answer within 5s: ' +
        JSON.stringify(data.toString('latin1'))));
    }, 5000);
    const finish = () => {
      clearTimeout(timer);
      c.destroy();
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end >= 0 ? text.slice(0, end) : text;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : 0, head,
        body: end >= 0 ? text.slice(end + 4) : '' });
    };
    c.on('connect', () => c.write(
      'GET ' + target + ' HTTP/1.1\r\n' +
      'Host: 127.0.0.1:' + port + '\r\n' +
      'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
      'Sec-WebSocket-Version: 13\r\n' +
      (protocols ? 'Sec-WebSocket-Protocol: ' + protocols + '\r\n' : '') +
      '\r\n'));
    c.on('data', (d) => {
      data = Buffer.concat([data, d]);
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0)
        return;
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
      if (/^HTTP\/1\.1 101/.test(text) ||
          (m && data.length >= end + 4 + Number(m[1])))
        finish();
    });
    c.on('end', finish);
    c.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

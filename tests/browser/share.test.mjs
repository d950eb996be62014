// Shared terminal sessions in real Chromium (issue 15): examples/terminal/
// on a route with share = id and a viewer route (view = ...). A writer and
// a viewer on one session (the viewer's keys are dropped), a reload of the
// writer's tab that reattaches and shows the earlier output, and a
// recorded session (record = DIR) that examples/replay/ plays.
//
// Skipped, saying so, while this build does not know the share keys
// (wsbridge --check reports them as unknown): the session engine comes
// with issue 15. Any other --check failure fails the test.
//
//   node --test tests/browser/share.test.mjs    (or: make browser-test)

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { BIN, EXAMPLES, REPO, Workspace, captureConsole, waitFor }
  from './lib.mjs';
import { openReplay, replayRoot, waitPlayerLine } from './player.mjs';

const PROMPT = 'wsb-ready>';
function routes(extra = '') {
  return `
[route /terminal]
exec = /bin/bash --norc --noprofile -i
mode = pty
env = PS1=${PROMPT}
share = id
persist = 1m
replay = 64K
${extra}
[route /terminal/watch]
view = /terminal
`;
}

// Why these tests cannot run on this build, or null.
function whyNot() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsb-share-check-'));
  try {
    const conf = path.join(dir, 'check.ini');
    fs.writeFileSync(conf, routes('record = ' + dir + '\n'));
    const r = spawnSync(BIN, ['-c', conf, '--check'], { encoding: 'utf8',
      timeout: 10000 });
    const out = (r.stdout || '') + (r.stderr || '');
    if (r.status === 0)
      return null;
    if (/unknown key "(share|view|record)"/.test(out))
      return 'needs the shared-session engine of issue 15 (this build ' +
        'does not know share/view/record)';
    throw new Error('wsbridge --check failed:\n' + out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Why the recording test cannot run: record = DIR is parsed, but no
// source file but cast.c itself calls cast_open() (the wiring is issue
// 15's session side), or null.
function whyNotRecord() {
  const src = path.join(REPO, 'src');
  const wired = fs.readdirSync(src).some((f) => f.endsWith('.c') &&
    f !== 'cast.c' && /\bcast_open\(/.test(fs.readFileSync(path.join(src, f),
      'utf8')));
  return wired ? null : 'record = DIR is not wired to the sessions yet ' +
    '(no src/*.c calls cast_open)';
}

// The replay page's web root (player.mjs) plus copies of the terminal
// page and the xterm.js files it loads.
function siteRoot(w) {
  const root = replayRoot(w);
  for (const f of ['terminal', 'node_modules/@xterm/xterm/css/xterm.css',
    'node_modules/@xterm/xterm/lib/xterm.mjs',
    'node_modules/@xterm/addon-fit/lib/addon-fit.mjs']) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.cpSync(path.join(EXAMPLES, f), path.join(root, f), { recursive: true });
  }
  return root;
}

async function screenLines(page) {
  return page.evaluate(() => {
    const b = window.wsbTerminal.term.buffer.active;
    const out = [];
    for (let i = 0; i < b.length; i++)
      out.push(b.getLine(i).translateToString(true));
    return out;
  });
}

async function waitLine(page, re, ms, what) {
  return waitFor(async () => {
    for (const l of (await screenLines(page)).reverse()) {
      const m = re.exec(l);
      if (m)
        return m;
    }
    return null;
  }, ms, async () => what + '; screen:\n' +
    (await screenLines(page).catch(() => [])).filter((l) => l).join('\n'));
}

// Open a terminal page at url and wait until it is connected.
async function openPage(w, browser, url, name) {
  const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
  captureConsole(page, w, name);
  w.defer(async (failed) => {
    if (failed && !page.isClosed())
      await w.screenshot(page, name + '-failure');
  });
  await page.goto(url, { timeout: 15000 });
  await waitConnected(page);
  return page;
}

async function waitConnected(page) {
  await waitFor(() => page.evaluate(() =>
    document.getElementById('status').dataset.state === 'connected'),
  10000, 'status "connected"');
}

async function typeLine(page, cmd) {
  await page.click('#terminal');
  await page.keyboard.type(cmd);
  await page.keyboard.press('Enter');
}

// Every byte the page's socket was given has left the browser.
async function sent(page) {
  await waitFor(() => page.evaluate(() =>
    window.wsbTerminal.ws.bufferedAmount === 0), 5000, 'input sent');
}

test('share: a writer and a read-only viewer on one terminal session',
  { timeout: 120000 }, async (t) => {
    const why = whyNot();
    if (why) {
      t.skip(why);
      return;
    }
    await Workspace.run('share-view', async (w) => {
      const srv = await w.wsbridge(routes());
      const browser = await w.browser();
      const writer = await openPage(w, browser, srv.base + '/terminal/',
        'writer');
      await waitLine(writer, new RegExp('^' + PROMPT), 10000, 'the prompt');
      const id = await writer.evaluate(() => window.wsbTerminal.session);
      assert.match(id, /^[A-Za-z0-9_-]{16}$/);
      assert.match(await writer.evaluate(() => window.wsbTerminal.ws.url),
        new RegExp('/terminal\\?session=' + id + '$'));

      // The page's own share link opens the viewer.
      const link = await writer.getAttribute('#share', 'href');
      assert.equal(link, srv.base + '/terminal/?path=%2Fterminal%2Fwatch' +
        '&session=' + id);
      const viewer = await openPage(w, browser, link, 'viewer');
      assert.match(await viewer.evaluate(() => window.wsbTerminal.ws.url),
        new RegExp('/terminal/watch\\?session=' + id + '$'));

      await typeLine(writer, 'echo wsb-$((6*7))');
      await waitLine(writer, /^wsb-42$/, 10000, 'wsb-42 on the writer');
      await waitLine(viewer, /^wsb-42$/, 10000, 'wsb-42 on the viewer');

      // The viewer types a command; its keys reach the server and are
      // dropped. The writer's next command, sent after them, shows on
      // both screens while the viewer's appears on neither.
      await typeLine(viewer, 'echo viewer-$((5*5))');
      await sent(viewer);
      await typeLine(writer, 'echo after-$((2*3))');
      await waitLine(writer, /^after-6$/, 10000, 'after-6 on the writer');
      await waitLine(viewer, /^after-6$/, 10000, 'after-6 on the viewer');
      for (const p of [writer, viewer]) {
        const text = (await screenLines(p)).join('\n');
        assert.doesNotMatch(text, /viewer-/, 'the viewer\'s keys reached ' +
          'the shell:\n' + text);
      }
      await w.screenshot(writer, 'share-writer');
      await w.screenshot(viewer, 'share-viewer');
    });
  });

test('share: a reload of the writer\'s tab reattaches with earlier output',
  { timeout: 120000 }, async (t) => {
    const why = whyNot();
    if (why) {
      t.skip(why);
      return;
    }
    await Workspace.run('share-reload', async (w) => {
      const srv = await w.wsbridge(routes());
      const browser = await w.browser();
      const page = await openPage(w, browser, srv.base + '/terminal/',
        'reload');
      await waitLine(page, new RegExp('^' + PROMPT), 10000, 'the prompt');
      const id = await page.evaluate(() => window.wsbTerminal.session);
      await typeLine(page, 'echo before-$((7*8)) pid=$$');
      const pid = (await waitLine(page, /^before-56 pid=(\d+)$/, 10000,
        'before-56'))[1];

      await page.reload({ timeout: 15000 });
      await waitConnected(page);
      assert.equal(await page.evaluate(() => window.wsbTerminal.session), id,
        'sessionStorage kept the id across the reload');
      // The replay redraws what the shell printed before the reload.
      await waitLine(page, /^before-56 pid=\d+$/, 10000,
        'the earlier output after the reload');
      await typeLine(page, 'echo again pid=$$');
      const again = await waitLine(page, /^again pid=(\d+)$/, 10000,
        'the same shell answering');
      assert.equal(again[1], pid, 'the reload reattached to the same shell');
      await w.screenshot(page, 'share-reload');
    });
  });

test('share: a recorded session plays in the replay page',
  { timeout: 120000 }, async (t) => {
    const why = whyNot() || whyNotRecord();
    if (why) {
      t.skip(why);
      return;
    }
    await Workspace.run('share-record', async (w) => {
      const root = siteRoot(w);
      const casts = path.join(root, 'casts');
      const srv = await w.wsbridge(routes('record = ' + casts + '\n'),
        { staticDir: root });
      const browser = await w.browser();
      const page = await openPage(w, browser, srv.base + '/terminal/',
        'record');
      await waitLine(page, new RegExp('^' + PROMPT), 10000, 'the prompt');
      const id = await page.evaluate(() => window.wsbTerminal.session);
      const size = await page.evaluate(() => ({
        cols: window.wsbTerminal.term.cols,
        rows: window.wsbTerminal.term.rows }));
      await typeLine(page, 'echo rec-$((6*7))');
      await waitLine(page, /^rec-42$/, 10000, 'rec-42 on the page');

      // terminal-TIME-ID.cast, 0640, its header the page's size; the
      // output is there once the line has been written.
      const name = await waitFor(() => fs.readdirSync(casts).find((f) =>
        new RegExp('^terminal-\\d{8}T\\d{6}Z-' + id + '\\.cast$').test(f)),
      10000, () => 'a recording in ' + casts + ': ' +
        JSON.stringify(fs.readdirSync(casts)));
      const file = path.join(casts, name);
      assert.equal(fs.statSync(file).mode & 0o7777, 0o640);
      await waitFor(() => /rec-42/.test(fs.readFileSync(file, 'utf8')),
        10000, 'rec-42 in ' + file);
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      const header = JSON.parse(lines[0]);
      assert.equal(header.version, 2);
      assert.deepEqual([header.width, header.height], [size.cols, size.rows]);
      for (const l of lines.slice(1).filter((x) => x))
        assert.ok(Array.isArray(JSON.parse(l)), 'an event: ' + l);

      const replay = await openReplay(w, browser, srv, '/casts/' + name,
        'record-replay');
      await waitPlayerLine(replay, /^rec-42\s*$/, 15000,
        'the recorded output in the player');
      await w.screenshot(replay, 'share-record-replay');
    });
  });

// examples/replay/ in real Chromium (issue 15): asciinema-player plays an
// asciicast v2 file made here; a missing file and one from another
// origin are refused with a reason on the page.
//
//   node --test tests/browser/replay.test.mjs    (or: make browser-test)

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { EXAMPLES, Workspace, captureConsole, waitFor } from './lib.mjs';

const PLAYER = 'node_modules/asciinema-player/dist/bundle';

// A web root with the replay page and the player's two files (copies: the
// static server refuses symlinks that leave its root), and casts/.
export function replayRoot(w) {
  const root = path.join(w.dir, 'www');
  fs.mkdirSync(path.join(root, PLAYER), { recursive: true });
  fs.mkdirSync(path.join(root, 'casts'));
  fs.cpSync(path.join(EXAMPLES, 'replay'), path.join(root, 'replay'),
    { recursive: true });
  fs.copyFileSync(path.join(EXAMPLES, 'favicon.svg'),
    path.join(root, 'favicon.svg'));
  for (const f of ['asciinema-player.min.js', 'asciinema-player.css'])
    fs.copyFileSync(path.join(EXAMPLES, PLAYER, f), path.join(root, PLAYER, f));
  return root;
}

// What the player's screen shows, one string per line.
export async function playerLines(page) {
  return page.evaluate(() => Array.from(
    document.querySelectorAll('#player .ap-line'), (l) => l.textContent));
}

// Open /replay/?src=...; the page object.
export async function openReplay(w, browser, srv, src, name) {
  const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
  captureConsole(page, w, name);
  w.defer(async (failed) => {
    if (failed && !page.isClosed())
      await w.screenshot(page, name + '-failure');
  });
  await page.goto(srv.base + '/replay/?src=' + encodeURIComponent(src),
    { timeout: 15000 });
  return page;
}

// Wait until the player's screen has a line matching re.
export async function waitPlayerLine(page, re, ms, what) {
  return waitFor(async () => (await playerLines(page)).find((l) => re.test(l)),
    ms, async () => what + '; player screen:\n' +
    (await playerLines(page).catch(() => [])).filter((l) => l.trim())
      .join('\n') + '\nstatus: ' +
    await page.textContent('#status').catch(() => '?') + ' ' +
    await page.textContent('#detail').catch(() => '?'));
}

test('replay: asciinema-player plays a recording', { timeout: 120000 },
  () => Workspace.run('replay', async (w) => {
    const root = replayRoot(w);
    // Colour, UTF-8, a resize and a marker line, as cast.c writes them.
    const lines = [
      { version: 2, width: 60, height: 10, timestamp: 1735787045,
        title: 'demo cast', env: { TERM: 'xterm-256color',
          REMOTE_USER: 'alice' } },
      [0.05, 'o', '$ echo hi\r\n'],
      [0.10, 'o', '\u001b[1;32mhello from wsbridge\u001b[0m\r\n'],
      [0.15, 'r', '70x12'],
      [0.20, 'o', '\u20acuro \u2713 done\r\n'],
      [0.25, 'm', 'record_max reached'],
    ];
    fs.writeFileSync(path.join(root, 'casts', 'demo.cast'),
      lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const srv = await w.wsbridge('[route /echo]\necho = yes\n',
      { staticDir: root });
    const browser = await w.browser();

    const page = await openReplay(w, browser, srv, '../casts/demo.cast',
      'replay');
    await waitPlayerLine(page, /hello from wsbridge/, 15000,
      'the recorded output in the player');
    await waitPlayerLine(page, /€uro ✓ done/, 15000,
      'the UTF-8 line in the player');
    await waitFor(() => page.evaluate(() => window.wsbReplay.state ===
      'ended'), 15000, 'the player reached the end');
    assert.match(await page.textContent('#detail'),
      /\/casts\/demo\.cast by alice/);
    assert.equal(await page.title(), 'demo cast - wsbridge replay');
    await w.screenshot(page, 'replay');

    // A missing file: the page says so, with the status.
    const missing = await openReplay(w, browser, srv, '/casts/none.cast',
      'replay-missing');
    await waitFor(() => missing.evaluate(() =>
      window.wsbReplay.state === 'failed'), 10000, 'failed for a 404');
    assert.match(await missing.textContent('#detail'), /none\.cast: 404/);

    // Another origin is refused before anything is fetched.
    const other = await openReplay(w, browser, srv,
      'http://127.0.0.2:' + srv.port + '/casts/demo.cast', 'replay-origin');
    await waitFor(() => other.evaluate(() =>
      window.wsbReplay.state === 'failed'), 10000, 'failed for an origin');
    assert.match(await other.textContent('#detail'), /from this site only/);
  }));

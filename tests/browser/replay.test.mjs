// examples/replay/ in real Chromium (issue 15): asciinema-player plays an
// asciicast v2 file made here; a missing file and one from another
// origin are refused with a reason on the page.
//
//   node --test tests/browser/replay.test.mjs    (or: make browser-test)

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { Workspace, waitFor } from './lib.mjs';
import { openReplay, replayRoot, waitPlayerLine } from './player.mjs';

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

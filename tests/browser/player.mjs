// Helpers for the tests of examples/replay/ (asciinema-player): a web
// root with the page, and reading what the player shows.

import fs from 'node:fs';
import path from 'node:path';

import { EXAMPLES, captureConsole, waitFor } from './lib.mjs';

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

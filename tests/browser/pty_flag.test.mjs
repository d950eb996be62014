// ttyd's habit (issue 17): `wsbridge --pty bash` opened at / in Chromium
// is a working terminal, on the built-in page and its xterm.js assets.
//
//   node --test tests/browser/pty_flag.test.mjs

import { test } from 'node:test';

import { BIN, REPO, Workspace, captureConsole, freePort, portOpen,
  waitFor } from './lib.mjs';

// The terminal's buffer as text lines, trailing blanks trimmed.
async function screen(page) {
  return page.evaluate(() => {
    const b = window.wsbTerminal.term.buffer.active;
    const out = [];
    for (let i = 0; i < b.length; i++)
      out.push(b.getLine(i).translateToString(true));
    return out;
  });
}

test('--pty bash: the page at / is a terminal', { timeout: 120000 },
  () => Workspace.run('pty-flag', async (w) => {
    const port = await freePort();
    const srv = w.child('wsbridge', [BIN, '--port', String(port),
      '--address', '127.0.0.1', '--pty', 'bash', '--norc', '--noprofile'],
    { cwd: REPO });
    await waitFor(async () => {
      if (!srv.running)
        throw new Error('wsbridge exited:\n' + srv.log());
      return portOpen(port);
    }, 10000, 'wsbridge listening on ' + port);

    const browser = await w.browser();
    const page = await browser.newPage({ viewport: { width: 900, height: 500 } });
    captureConsole(page, w, 'pty-flag');
    w.defer(async (failed) => {
      if (failed && !page.isClosed())
        await w.screenshot(page, 'pty-flag-failure');
    });
    await page.goto('http://127.0.0.1:' + port + '/', { timeout: 15000 });
    // Connected and the shell has drawn something (its prompt).
    await waitFor(() => page.evaluate(() => window.wsbTerminal &&
      window.wsbTerminal.ws.readyState === WebSocket.OPEN), 10000,
    'the WebSocket open');
    await waitFor(async () => (await screen(page)).some((l) => l.trim()),
      10000, 'a prompt');
    await page.click('#terminal');
    await page.keyboard.type('echo hi$((1+1))');
    await page.keyboard.press('Enter');
    // The typed line shows "hi$((1+1))"; only bash's output is "hi2" alone.
    await waitFor(async () => (await screen(page)).some((l) => l === 'hi2'),
      10000, async () => 'hi2 on the screen; screen:\n' +
        (await screen(page)).filter((l) => l).join('\n'));
  }));

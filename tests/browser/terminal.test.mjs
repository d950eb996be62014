// examples/terminal/ in real Chromium against a pty route (issue 5):
// prompt, input, output, title, resize (stty size), exit code, and no
// shell left behind when the tab closes.
//
//   node --test tests/browser/terminal.test.mjs    (or: make browser-test)

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Workspace, captureConsole, procState, waitFor } from './lib.mjs';

const PROMPT = 'wsb-ready>';
// bash without rc files, so the prompt is ours and nothing else prints.
const ROUTES = `
[route /terminal]
exec = /bin/bash --norc --noprofile -i
mode = pty
env = PS1=${PROMPT}
`;

// The terminal's buffer as text lines, trailing blanks trimmed.
async function screenLines(page) {
  return page.evaluate(() => {
    const b = window.wsbTerminal.term.buffer.active;
    const out = [];
    for (let i = 0; i < b.length; i++)
      out.push(b.getLine(i).translateToString(true));
    return out;
  });
}

// Wait for a line of the buffer matching re; its match.
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

async function termSize(page) {
  return page.evaluate(() => ({ cols: window.wsbTerminal.term.cols,
    rows: window.wsbTerminal.term.rows }));
}

async function openTerminal(w, browser, srv, name) {
  const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
  captureConsole(page, w, name);
  w.defer(async (failed) => {
    if (failed && !page.isClosed())
      await w.screenshot(page, name + '-failure');
  });
  await page.goto(srv.base + '/terminal/', { timeout: 15000 });
  await waitFor(() => page.evaluate(() =>
    document.getElementById('status').dataset.state === 'connected'),
  10000, 'status "connected"');
  await waitLine(page, new RegExp('^' + PROMPT), 10000, 'the prompt');
  await page.click('#terminal');
  return page;
}

async function run(page, cmd) {
  await page.keyboard.type(cmd);
  await page.keyboard.press('Enter');
}

test('terminal: prompt, echo, resize, close kills the shell',
  { timeout: 120000 }, () => Workspace.run('terminal', async (w) => {
    const srv = await w.wsbridge(ROUTES);
    const browser = await w.browser();
    const page = await openTerminal(w, browser, srv, 'terminal');

    // Title from the server's '1' message: "/bin/bash (host)".
    assert.match(await page.title(), /bash/);

    await run(page, 'echo wsb-$((6*7))');
    await waitLine(page, /^wsb-42$/, 10000, 'wsb-42 echoed by the shell');

    await run(page, 'echo pid=$$');
    const pid = Number((await waitLine(page, /^pid=(\d+)$/, 10000,
      'the shell\'s pid'))[1]);
    const st = procState(pid);
    assert.ok(st && st.comm === 'bash', 'pid ' + pid + ' is bash: ' +
      JSON.stringify(st));

    // The pty has the size the fit addon computed for the page.
    const s1 = await termSize(page);
    await run(page, 'echo s1=$(stty size)');
    const m1 = await waitLine(page, /^s1=(\d+) (\d+)$/, 10000, 'stty size');
    assert.deepEqual([Number(m1[1]), Number(m1[2])], [s1.rows, s1.cols]);
    await w.screenshot(page, 'terminal');

    // A smaller window: fit, a '1' resize message, TIOCSWINSZ.
    await page.setViewportSize({ width: 620, height: 380 });
    const s2 = await waitFor(async () => {
      const s = await termSize(page);
      return s.cols !== s1.cols && s.rows !== s1.rows ? s : null;
    }, 10000, 'xterm refitted after the viewport resize');
    assert.ok(s2.cols < s1.cols && s2.rows < s1.rows,
      JSON.stringify({ s1, s2 }));
    await run(page, 'echo s2=$(stty size)');
    const m2 = await waitLine(page, /^s2=(\d+) (\d+)$/, 10000,
      'stty size after the resize');
    assert.deepEqual([Number(m2[1]), Number(m2[2])], [s2.rows, s2.cols]);
    await w.screenshot(page, 'terminal-resized');

    // Closing the tab closes the WebSocket: the shell goes (SIGHUP or the
    // close_grace SIGTERM/SIGKILL) and is reaped, within bounds.
    await page.close();
    await waitFor(() => procState(pid) === null, 10000,
      () => 'shell ' + pid + ' still there: ' + JSON.stringify(procState(pid)));
  }));

test('terminal: the shell\'s exit status is shown as the close code',
  { timeout: 120000 }, () => Workspace.run('terminal-exit', async (w) => {
    const srv = await w.wsbridge(ROUTES);
    const browser = await w.browser();
    const page = await openTerminal(w, browser, srv, 'terminal-exit');

    await run(page, 'exit 3');
    await waitFor(() => page.evaluate(() => window.wsbClose), 10000,
      'the WebSocket closed after "exit 3"');
    const close = await page.evaluate(() => window.wsbClose);
    assert.deepEqual(close, { code: 1011, reason: 'exit 3' });
    assert.equal(await page.textContent('#status'), 'closed');
    assert.match(await page.textContent('#detail'), /1011.*exit 3/);
    await waitLine(page, /\[connection closed: code 1011 \(exit 3\)\]/, 5000,
      'the close line in the terminal');
    await w.screenshot(page, 'terminal-exit');
  }));

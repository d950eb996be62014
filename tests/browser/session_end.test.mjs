// wsbridge.js close() over SSE and long polling ends the session at once
// (DELETE ?session=, issue 16) instead of leaving the program to run for
// session_timeout: in Chromium, the program and its child are gone long
// before the route's 600 s. Also from a pagehide handler (keepalive).
// Loopback ports only.
//
//   node --test tests/browser/session_end.test.mjs

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { Workspace, captureConsole, procState, waitFor } from './lib.mjs';

// Ignores its stdin and has a child: only the grace sequence (TERM to
// its process group) ends both.
function route(w) {
  const pids = path.join(w.dir, 'pids');
  const script = w.file('grp.sh', '#!/bin/sh\nsleep 600 &\n' +
    'echo $$ $! > ' + pids + '.tmp\nmv ' + pids + '.tmp ' + pids + '\n' +
    'echo ready\nwait\n');
  fs.chmodSync(script, 0o755);
  return { pids, ini: '[route /grp]\nexec = ' + script + '\n' +
    'transports = sse, poll\nsession_timeout = 600s\nclose_grace = 200ms\n' };
}

const alive = (pid) => {
  const st = procState(pid);
  return st !== null && st.state !== 'Z';
};

// The pids the program wrote when it started. running: they must still
// run (not so after close(): its DELETE may already have ended them).
async function started(file, running = true) {
  await waitFor(() => fs.existsSync(file), 15000, 'the program started');
  const pids = fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
  assert.equal(pids.length, 2);
  if (running)
    assert.ok(pids.every(alive), 'program and child run');
  fs.unlinkSync(file);
  return pids;
}

async function gone(pids, what) {
  for (const pid of pids)
    await waitFor(() => !alive(pid), 15000, what + ': pid ' + pid + ' gone');
}

for (const transport of ['sse', 'poll']) {
  test('wsbridge.js close() over ' + transport + ' ends the program',
    { timeout: 120000 }, () => Workspace.run('session-end-' + transport,
      async (w) => {
        const r = route(w);
        const srv = await w.wsbridge(r.ini);
        const browser = await w.browser();
        const page = await browser.newPage();
        captureConsole(page, w, 'session-end-' + transport);
        await page.goto(srv.base + '/count.html', { timeout: 15000 });
        const closed = await page.evaluate(async (t) => {
          const m = await import('/wsbridge.js');
          return new Promise((resolve) => {
            const s = m.connect('/grp', { transports: [t] });
            s.onmessage = () => s.close();
            s.onclose = (e) => resolve({ code: e.code, reason: e.reason,
              wasClean: e.wasClean, transport: s.transport });
          });
        }, transport);
        assert.deepEqual(closed, { code: 1000, reason: '', wasClean: true,
          transport });
        await gone(await started(r.pids, false), 'close()');

        // A page that closes it as it goes away: the DELETE outlives it.
        await page.evaluate(async (t) => {
          const m = await import('/wsbridge.js');
          await new Promise((resolve) => {
            const s = m.connect('/grp', { transports: [t] });
            s.onopen = resolve;
            window.addEventListener('pagehide', () => s.close());
          });
        }, transport);
        const pids = await started(r.pids);
        await page.goto('about:blank');
        await gone(pids, 'pagehide');
      }));
}

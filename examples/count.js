// Counter demo: run /count and show each number as it arrives, then the
// close code the script's exit status turned into.
import { connect } from './wsbridge.js';

(function () {
  const $ = (id) => document.getElementById(id);
  const url = wsUrl('/count');
  const TOTAL = 10;

  $('url').textContent = url;

  function run() {
    const ws = connect('/count', { transports: pageTransports() });
    window.wsbSocket = ws;   // for tests/browser/fallback.test.mjs
    const t0 = performance.now();
    $('start').disabled = true;
    $('n').textContent = '\u2013';
    $('bar').style.width = '0';
    showTransport($('transport'), null);
    setState($('state'), 'connecting');
    ws.onopen = () => {
      setState($('state'), 'open');
      showTransport($('transport'), ws.transport);
      logLine($('log'), 'info', 'connected over ' + ws.transport + ', the script is running');
    };
    ws.onmessage = (ev) => {
      const n = parseInt(ev.data, 10);
      const s = ((performance.now() - t0) / 1000).toFixed(1);
      $('n').textContent = ev.data.trim();
      if (n > 0) $('bar').style.width = Math.min(100, n * 100 / TOTAL) + '%';
      logLine($('log'), 'in', ev.data.trim() + '   (+' + s + ' s)');
    };
    ws.onerror = (ev) => logLine($('log'), 'err', 'error: ' + (ev.message || 'connection'));
    ws.onclose = (ev) => {
      setState($('state'), 'closed');
      logLine($('log'), ev.code === 1000 ? 'info' : 'err', 'closed: ' + closeText(ev));
      $('start').disabled = false;
    };
  }

  $('start').onclick = run;
  run();
})();

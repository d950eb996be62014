// Counter demo: run /count and show each number as it arrives, then the
// close code the script's exit status turned into.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const url = wsUrl('/count');
  const TOTAL = 10;

  $('url').textContent = url;

  function run() {
    const ws = new WebSocket(url);
    const t0 = performance.now();
    $('start').disabled = true;
    $('n').textContent = '\u2013';
    $('bar').style.width = '0';
    setState($('state'), 'connecting');
    ws.onopen = () => {
      setState($('state'), 'open');
      logLine($('log'), 'info', 'connected, the script is running');
    };
    ws.onmessage = (ev) => {
      const n = parseInt(ev.data, 10);
      const s = ((performance.now() - t0) / 1000).toFixed(1);
      $('n').textContent = ev.data.trim();
      if (n > 0) $('bar').style.width = Math.min(100, n * 100 / TOTAL) + '%';
      logLine($('log'), 'in', ev.data.trim() + '   (+' + s + ' s)');
    };
    ws.onerror = () => logLine($('log'), 'err', 'connection error');
    ws.onclose = (ev) => {
      setState($('state'), 'closed');
      logLine($('log'), ev.code === 1000 ? 'info' : 'err', 'closed: ' + closeText(ev));
      $('start').disabled = false;
    };
  }

  $('start').onclick = run;
  run();
})();

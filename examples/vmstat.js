// System dashboard: read vmstat's text lines from /vmstat, keep the last
// two minutes of samples and draw them on canvases, no chart library.
import { connect } from './wsbridge.js';

(function () {
  const $ = (id) => document.getElementById(id);
  const url = wsUrl('/vmstat');
  const N = 120;                       // samples kept: 2 minutes at 1/s
  const COLORS = { us: '#2f6fce', sy: '#e0822b', id: '#27a35a', free: '#9b59b6' };
  // procps's column order, used until a header line names them.
  let cols = 'r b swpd free buff cache si so bi bo in cs us sy id wa st'.split(' ');
  let header = '';
  let samples = [];
  let first = true;
  let ws = null;

  $('url').textContent = url;

  // One vmstat line: "procs ---memory---" and the column names are
  // headers (repeated every so often); data lines are all numbers.
  function onLine(line) {
    const f = line.trim().split(/\s+/);
    if (f.length < 2 || f[0] === 'procs') return;
    if (!/^\d+$/.test(f[0])) {
      cols = f;
      header = line;
      return;
    }
    // The first data line is the average since boot, not "now".
    if (first) { first = false; return; }
    const s = {};
    cols.forEach((name, i) => { s[name] = Number(f[i]); });
    samples.push(s);
    if (samples.length > N) samples.shift();
    show(s, line);
  }

  function mem(kib) {
    const mib = kib / 1024;
    return mib >= 1024 ? (mib / 1024).toFixed(1) + ' GiB' : mib.toFixed(0) + ' MiB';
  }

  function show(s, line) {
    for (const k of ['us', 'sy', 'id', 'wa'])
      $(k).textContent = Number.isFinite(s[k]) ? s[k] + '%' : '\u2013';
    $('free').textContent = Number.isFinite(s.free) ? mem(s.free) : '\u2013';
    $('raw').textContent = header + '\n' + line;
    draw();
  }

  // 1, 2, 2.5 or 5 times a power of ten, at least x: round grid steps.
  function niceCeil(x) {
    if (!(x > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 2.5, 5]) if (m * p >= x) return m * p;
    return 10 * p;
  }

  function chart(canvas, series, yMax, fmt) {
    const css = getComputedStyle(document.documentElement);
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const L = 64, R = 8, T = 8, B = 20, pw = w - L - R, ph = h - T - B;
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    ctx.strokeStyle = css.getPropertyValue('--line').trim();
    ctx.fillStyle = css.getPropertyValue('--muted').trim();
    ctx.textAlign = 'right';
    for (let i = 0; i <= 4; i++) {
      const y = Math.round(T + ph * i / 4) + 0.5;
      ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(w - R, y); ctx.stroke();
      ctx.fillText(fmt(yMax * (4 - i) / 4), L - 6, y + 4);
    }
    ctx.fillText('now', w - R, h - 4);
    ctx.textAlign = 'left';
    ctx.fillText('\u2212' + (N - 1) + ' s', L, h - 4);
    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    for (const key of series) {
      ctx.strokeStyle = COLORS[key];
      ctx.beginPath();
      samples.forEach((s, i) => {
        const x = L + pw * (N - samples.length + i) / (N - 1);
        const y = T + ph * (1 - Math.min(s[key], yMax) / yMax);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
    }
  }

  // Memory axis in whole MiB or GiB steps, four of them, from zero.
  function draw() {
    const top = Math.max(0, ...samples.map((s) => s.free || 0));
    const unit = top >= 1048576 ? 1048576 : 1024;
    const name = unit === 1024 ? ' MiB' : ' GiB';
    const step = niceCeil(top * 1.15 / unit / 4) * unit;
    chart($('cpu'), ['us', 'sy', 'id'], 100, (v) => v + '%');
    chart($('mem'), ['free'], 4 * step, (v) => +(v / unit).toFixed(2) + name);
  }

  function start() {
    ws = connect('/vmstat', { transports: pageTransports() });
    showTransport($('transport'), null);
    first = true;
    setState($('state'), 'connecting');
    $('toggle').textContent = 'Stop';
    ws.onopen = () => {
      setState($('state'), 'open');
      showTransport($('transport'), ws.transport);
      logLine($('log'), 'info', 'connected over ' + ws.transport + ', vmstat is running');
    };
    // A message is a line in text mode; split anyway in case of several.
    ws.onmessage = (ev) => String(ev.data).split('\n').forEach((l) => l && onLine(l));
    ws.onerror = (ev) => logLine($('log'), 'err', 'error: ' + (ev.message || 'connection'));
    ws.onclose = (ev) => {
      setState($('state'), 'closed');
      logLine($('log'), 'info', 'closed: ' + closeText(ev));
      $('toggle').textContent = 'Start';
      ws = null;
    };
  }

  $('toggle').onclick = () => {
    if (ws) { setState($('state'), 'closing'); ws.close(1000); } else start();
  };
  window.addEventListener('resize', draw);
  draw();
  start();
})();

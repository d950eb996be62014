// Echo demo: connect to /echo, send what is typed, log what comes back
// with its round-trip time, and the close code at the end.
import * as wsbridge from './wsbridge.js';

(function () {
  const $ = (id) => document.getElementById(id);
  const url = wsUrl('/echo');
  let ws = null;
  const sent = [];   // send times, in order: the echo preserves it

  $('url').textContent = url;

  function controls(open) {
    $('connect').disabled = ws !== null;
    $('close').disabled = !open;
    $('msg').disabled = !open;
    $('send').disabled = !open;
  }

  function connect() {
    ws = wsbridge.connect('/echo', { transports: pageTransports() });
    showTransport($('transport'), null);
    setState($('state'), 'connecting');
    controls(false);
    ws.onopen = () => {
      setState($('state'), 'open');
      showTransport($('transport'), ws.transport);
      logLine($('log'), 'info', 'connected to ' + url + ' over ' + ws.transport);
      controls(true);
      $('msg').focus();
    };
    ws.onmessage = (ev) => {
      const ms = sent.length ? Math.round(performance.now() - sent.shift()) : null;
      logLine($('log'), 'in', '\u2190 ' + ev.data + (ms !== null ? '   (' + ms + ' ms)' : ''));
    };
    ws.onerror = (ev) => logLine($('log'), 'err', 'error: ' + (ev.message || 'connection'));
    ws.onclose = (ev) => {
      setState($('state'), 'closed');
      logLine($('log'), 'info', 'closed: ' + closeText(ev));
      ws = null;
      sent.length = 0;
      controls(false);
    };
  }

  $('connect').onclick = connect;
  $('close').onclick = () => {
    setState($('state'), 'closing');
    ws.close(1000, 'bye');
  };
  $('form').onsubmit = (ev) => {
    ev.preventDefault();
    const text = $('msg').value;
    if (!ws || ws.readyState !== 1 || text === '') return;
    sent.push(performance.now());
    ws.send(text);
    logLine($('log'), 'out', '\u2192 ' + text);
    $('msg').value = '';
  };
  connect();
})();

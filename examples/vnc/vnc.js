// noVNC through a wsbridge connect route (websockify's job).
//
// Query parameters:
//   path=/vnc      the route (default /vnc), relative to this server
//   token=NAME     passed on as ?token=NAME, for routes with a targets file
//   view_only=1    no keyboard or mouse input
// The VNC password, if the server asks for one, is typed into the page.
import RFB from '../node_modules/@novnc/novnc/core/rfb.js';

const params = new URLSearchParams(location.search);
const route = params.get('path') || '/vnc';
const token = params.get('token');
const statusEl = document.getElementById('status');
const detailEl = document.getElementById('detail');
const loginEl = document.getElementById('login');
const passwordEl = document.getElementById('password');
const reconnectEl = document.getElementById('reconnect');

function setStatus(state, detail) {
  statusEl.dataset.state = state;
  statusEl.textContent = state;
  detailEl.textContent = detail || '';
  window.wsbVnc.state = state;
  window.wsbVnc.detail = detail || '';
}

function wsUrl() {
  const u = new URL(route, location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (token !== null)
    u.searchParams.set('token', token);
  return u.href;
}

// For tests and the console: the RFB object and the last state.
window.wsbVnc = { rfb: null, state: 'connecting', detail: '' };

function connect() {
  let everConnected = false;
  let desktop = '';
  reconnectEl.hidden = true;
  setStatus('connecting', route);
  // noVNC 1.7 offers no subprotocol unless told; websockify and wsbridge
  // routes with "protocols = binary" expect this one.
  const rfb = new RFB(document.getElementById('screen'), wsUrl(), {
    wsProtocols: ['binary'],
  });
  rfb.scaleViewport = true;
  rfb.viewOnly = params.get('view_only') === '1';
  window.wsbVnc.rfb = rfb;

  rfb.addEventListener('connect', () => {
    everConnected = true;
    loginEl.hidden = true;
    setStatus('connected', desktop || route);
  });
  rfb.addEventListener('desktopname', (e) => {
    desktop = e.detail.name;
    document.title = desktop + ' - wsbridge VNC';
    if (everConnected)
      detailEl.textContent = e.detail.name;
  });
  rfb.addEventListener('credentialsrequired', () => {
    setStatus('connecting', 'password required');
    loginEl.hidden = false;
    passwordEl.focus();
  });
  rfb.addEventListener('securityfailure', (e) => {
    setStatus('failed', 'security failure: ' +
      (e.detail.reason || 'status ' + e.detail.status));
  });
  rfb.addEventListener('disconnect', (e) => {
    loginEl.hidden = true;
    reconnectEl.hidden = false;
    if (statusEl.dataset.state === 'failed')
      return;	// keep the security failure's reason
    if (e.detail.clean && everConnected)
      setStatus('disconnected', 'the server closed the session');
    else if (everConnected)
      setStatus('failed', 'connection lost');
    else
      // The browser does not tell a page why a WebSocket upgrade failed:
      // wsbridge's log (and the Network tab) has the 404, 403 or 502.
      setStatus('failed', 'could not connect to ' + route +
        (token !== null ? ' (token ' + token + ')' : '') +
        ': no route, unknown token or VNC server down');
  });
  loginEl.onsubmit = (ev) => {
    ev.preventDefault();
    rfb.sendCredentials({ password: passwordEl.value });
    passwordEl.value = '';
    loginEl.hidden = true;
  };
}

reconnectEl.addEventListener('click', connect);
connect();

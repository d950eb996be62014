// Plays a session recording (route key record = DIR, asciicast v2) with
// asciinema-player: /replay/?src=URL.cast[&speed=2].
//
// src is resolved against this page and must be on this page's origin:
// the page shows what it is told to, so it is told only by its own site
// (serve the recordings directory there, e.g. under static_dir, behind
// the same access rules as the terminal route). The file is fetched here,
// so an HTTP error or a file that is not asciicast shows as such.
const params = new URLSearchParams(location.search);
const statusEl = document.getElementById('status');
const detailEl = document.getElementById('detail');

function setStatus(state, detail) {
  statusEl.dataset.state = state;
  statusEl.textContent = state;
  detailEl.textContent = detail || '';
  window.wsbReplay.state = state;
}

window.wsbReplay = { state: 'loading', player: null };

// The recording's URL, or throws why not.
function source() {
  const src = params.get('src');
  if (!src)
    throw new Error('no recording: add ?src=URL of a .cast file');
  const u = new URL(src, location.href);
  if (u.origin !== location.origin)
    throw new Error('recordings are played from this site only: ' + u.href);
  return u;
}

async function load(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok)
    throw new Error(url.pathname + ': ' + r.status + ' ' + r.statusText);
  const text = await r.text();
  let header;
  try {
    header = JSON.parse(text.slice(0, text.indexOf('\n')));
  } catch (e) {
    throw new Error(url.pathname + ': not asciicast (' + e.message + ')');
  }
  if (header.version !== 2)
    throw new Error(url.pathname + ': asciicast version ' + header.version +
      ', not 2');
  return { text, header };
}

async function main() {
  let url, cast;
  try {
    url = source();
    cast = await load(url);
  } catch (e) {
    setStatus('failed', e.message);
    return;
  }
  const { header } = cast;
  const who = header.env && header.env.REMOTE_USER ?
    ' by ' + header.env.REMOTE_USER : '';
  document.title = (header.title || url.pathname.split('/').pop()) +
    ' - wsbridge replay';
  const player = AsciinemaPlayer.create({ data: cast.text },
    document.getElementById('player'), {
      autoPlay: true,
      fit: 'width',
      idleTimeLimit: 2,
      speed: Number(params.get('speed')) || 1,
    });
  window.wsbReplay.player = player;
  setStatus('ready', url.pathname + who);
  player.addEventListener('playing', () => setStatus('playing',
    url.pathname + who));
  player.addEventListener('pause', () => setStatus('paused',
    url.pathname + who));
  player.addEventListener('ended', () => setStatus('ended',
    url.pathname + who));
}

main();

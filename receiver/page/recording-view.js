// One workspace's recording in the detail view, played by asciinema-player
// (its own prebuilt bundle, which index.html loads as window.AsciinemaPlayer).
// GET /recordings/<id> answers the whole-file object when there is one,
// otherwise the durable segments. Each `recordings` event on /stream calls
// refresh(): the recording is fetched again and, when it grew, the player is
// rebuilt where it was. A viewer at the end plays on into the new part, a
// viewer elsewhere stays where they were. (The player can neither take more
// events into a loaded recording nor change speed: both rebuild it.)

const SPEEDS = [0.5, 1, 2, 4, 8];
/** Within this of the end, the viewer is following the session. */
const END_SLACK_SECONDS = 0.25;
/**
 * A follower is never further behind the durable end than this: after a long
 * idle stretch the new part would otherwise play minutes of an unchanged
 * screen before the student's next keystroke.
 */
const FOLLOW_BEHIND_MAX_SECONDS = 5;

const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };

/** "75", "1:15" or "0:01:15.5" as seconds; undefined for anything else. */
export function parseTime(s) {
  const parts = s.trim().split(':');
  if (parts.length > 3 || !parts.every((p) => /^\d+(\.\d+)?$/.test(p))) return undefined;
  return parts.reduce((sum, p) => sum * 60 + Number(p), 0);
}

const size = (bytes) => (bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

/** `unauthorized()` shows the token form and returns the error to throw. */
export function createRecordingView(workspaceId, unauthorized) {
  const url = `/recordings/${encodeURIComponent(workspaceId)}`;

  const status = el('span', 'recording-status', 'no recording yet');
  const speed = el('select');
  speed.setAttribute('aria-label', 'playback speed');
  for (const s of SPEEDS) { const o = el('option', null, `${s}×`); o.value = String(s); speed.append(o); }
  speed.value = '1';
  const seekInput = el('input');
  Object.assign(seekInput, { placeholder: 'm:ss', size: 7, autocomplete: 'off' });
  seekInput.setAttribute('aria-label', 'go to time');
  const seekForm = el('form', 'recording-seek');
  seekForm.append(seekInput, el('button', null, 'go'));
  const raw = el('a', null, 'raw asciicast');
  raw.href = url;
  raw.download = `${workspaceId}.cast`;
  const bar = el('div', 'recording-bar');
  bar.append(el('h3', null, 'recording'), status, speed, seekForm, raw);
  const screen = el('div', 'recording-screen');
  const root = el('section', 'recording');
  root.append(bar, screen);

  let shown = null;     // { text, generation, source } in the player
  let player = null;
  let playing = false;
  let ended = false;
  let running = null;
  let again = false;
  let disposed = false;

  /** Builds a player on `text` at `at` (seconds or a percentage), playing or not; a follower goes on from `at`. */
  async function build(text, { at, play, follow = false }) {
    player?.dispose();
    playing = ended = false;
    const p = window.AsciinemaPlayer.create({ data: text }, screen, { fit: 'width', controls: true, speed: Number(speed.value), preload: true });
    player = p;
    p.addEventListener('playing', () => { if (player === p) { playing = true; ended = false; } });
    p.addEventListener('pause', () => { if (player === p) playing = false; });
    p.addEventListener('ended', () => { if (player === p) { playing = false; ended = true; } });
    await p.seek(at);
    const duration = p.getDuration() ?? 0;
    if (follow && duration - at > FOLLOW_BEHIND_MAX_SECONDS) await p.seek(duration - FOLLOW_BEHIND_MAX_SECONDS);
    if (play && player === p) await p.play();
  }

  /** Where the viewer is, to rebuild the player there. */
  function position() {
    const duration = player.getDuration() ?? 0;
    const now = player.getCurrentTime() ?? 0;
    if (ended || now >= duration - END_SLACK_SECONDS) return { at: duration, play: true, follow: true };
    return { at: now, play: playing };
  }

  async function load() {
    if (!shown) status.textContent = 'loading…';
    const res = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 401) throw unauthorized();
    if (res.status === 404) {
      if (!shown) status.textContent = 'no recording yet';
      return;
    }
    if (!res.ok) throw new Error(`${url}: ${res.status}`);
    const bytes = await res.arrayBuffer();
    const body = new TextDecoder().decode(bytes);
    // Complete lines only: the whole-file object is the file as it was, and may end inside one.
    const text = body.slice(0, body.lastIndexOf('\n') + 1);
    const generation = res.headers.get('x-recording-generation');
    const source = res.headers.get('x-recording-source');
    if (disposed || (shown && shown.generation === generation && shown.text === text)) return;
    // A new generation is a new file (truncated or replaced): shown from its latest screen, as at first.
    const where = shown && shown.generation === generation && player ? position() : { at: '100%', play: false };
    shown = { text, generation, source };
    status.textContent = source === 'final' ? `complete · ${size(bytes.byteLength)}` : `live · ${size(bytes.byteLength)} durable so far`;
    await build(text, where);
  }

  speed.addEventListener('change', () => {
    if (player && shown) void build(shown.text, { at: player.getCurrentTime() ?? 0, play: playing });
  });
  seekForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const t = parseTime(seekInput.value);
    seekInput.classList.toggle('invalid', t === undefined);
    if (t !== undefined && player) void player.seek(t);
  });

  return {
    el: root,
    /** Whether a recording is in the player. */
    get loaded() { return shown !== null; },
    /** Fetches the recording again; calls made while one runs are folded into one more. */
    refresh() {
      if (running) { again = true; return running; }
      running = (async () => {
        do { again = false; await load(); } while (again && !disposed);
      })().catch((err) => {
        status.textContent = 'recording unavailable';
        console.error(err);
      }).finally(() => { running = null; });
      return running;
    },
    dispose() {
      disposed = true;
      player?.dispose();
      player = null;
    },
  };
}

// The live page's script (an ES module, loaded by index.html). Everything the
// page shows comes from the read API, /stream and /recordings (same origin,
// the read token in the cookie). Rows are updated in place; text is always
// set with textContent, never parsed as HTML.
import { createRecordingView } from './recording-view.js';

const rows = new Map();   // workspace_id -> { data, tr }
let selected = null;
let detailTimer = null;
let recording = null;     // the selected workspace's player

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };

function ago(iso) {
  if (!iso) return '';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ago`;
}
const latest = (...times) => times.filter(Boolean).sort().at(-1) ?? null;

const askForToken = () => { $('login').classList.add('open'); return new Error('read token needed'); };

async function api(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (res.status === 401) throw askForToken();
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

function render(ws) {
  const r = rows.get(ws);
  const d = r.data;
  if (!r.tr) {
    r.tr = el('tr');
    r.tr.dataset.workspace = ws;
    for (const cls of ['id', 'workshop', 'step', 'done', 'connected', 'activity', 'command']) r.tr.append(el('td', cls));
    r.tr.addEventListener('click', () => select(ws));
    const after = [...rows.keys()].filter((k) => k > ws && rows.get(k).tr).sort()[0];
    $('rows').insertBefore(r.tr, after ? rows.get(after).tr : null);
  }
  const c = r.tr.children;
  c[0].textContent = ws;
  c[1].textContent = d.workshop_name ?? '';
  c[2].textContent = d.current_step ?? '';
  c[3].textContent = d.steps_completed ? String(d.steps_completed.length) : '';
  c[4].replaceChildren(el('span', d.connected ? 'dot on' : 'dot'));
  c[4].title = d.connected ? 'connected' : 'not connected';
  c[5].textContent = ago(d.last_activity);
  c[6].textContent = d.last_command ? d.last_command.command : '';
  c[6].classList.toggle('failed', !!d.last_command && d.last_command.exit_code !== 0);
  c[6].title = d.last_command ? `exit ${d.last_command.exit_code} at ${d.last_command.timestamp}` : '';
  applyFilter(r);
}

const STATUS_FIELDS = ['workshop_name', 'current_step', 'connected', 'last_active_at', 'steps_completed', 'last_goss_passed', 'updated_at'];

// The stream opens before the list loads, so either may be the older news: keep the newer.
function merge(ws, patch) {
  const r = rows.get(ws) ?? { data: { workspace_id: ws } };
  rows.set(ws, r);
  const d = r.data;
  if (patch.updated_at && d.updated_at && patch.updated_at < d.updated_at) for (const f of STATUS_FIELDS) delete patch[f];
  if (patch.last_command && d.last_command && patch.last_command.timestamp < d.last_command.timestamp) delete patch.last_command;
  Object.assign(d, patch);
  r.data.last_activity = latest(r.data.last_activity, r.data.last_active_at, r.data.last_command?.timestamp, patch.at);
  render(ws);
  return r;
}

function applyFilter(r) {
  const f = $('filter').value.trim().toLowerCase();
  const d = r.data;
  r.tr.hidden = f !== '' && ![d.workspace_id, d.current_step, d.last_command?.command].some((v) => v && v.toLowerCase().includes(f));
}

function count() {
  const all = [...rows.values()];
  $('count').textContent = `${all.length} workspaces · ${all.filter((r) => r.data.connected).length} connected`;
}

async function loadAll() {
  let after = null;
  do {
    const page = await api(`/api/workspaces?limit=1000${after ? `&after=${after}` : ''}`);
    for (const w of page.items) merge(w.workspace_id, w);
    after = page.next;
  } while (after);
  count();
}

function follow() {
  const es = new EventSource('/stream');
  es.onopen = () => { $('state').textContent = 'live'; $('state').className = 'live'; };
  es.onerror = () => { $('state').textContent = 'reconnecting'; $('state').className = 'down'; };
  es.addEventListener('batch', (m) => {
    const e = JSON.parse(m.data);
    const patch = { at: e.at };
    if (e.status) Object.assign(patch, e.status);
    if (e.last_command) patch.last_command = e.last_command;
    const r = merge(e.workspace_id, patch);
    r.tr.classList.remove('flash');
    void r.tr.offsetWidth;
    r.tr.classList.add('flash');
    count();
    if (selected === e.workspace_id) {
      clearTimeout(detailTimer);
      detailTimer = setTimeout(() => showDetail(selected), 300);
      if (e.stream === 'recordings') recording.refresh();
    }
  });
  // Behind the replay window: what was missed is in the tables (and the bucket).
  es.addEventListener('reset', () => {
    void loadAll();
    if (!selected) return;
    void showDetail(selected).catch((err) => console.error(err));
    if (recording.loaded) recording.refresh();
  });
}

function section(title, items, line) {
  const s = [el('h3', null, title)];
  const pre = el('pre');
  pre.textContent = items.length === 0 ? '(none)' : items.map(line).join('\n');
  s.push(pre);
  return s;
}

async function showDetail(ws) {
  const enc = encodeURIComponent(ws);
  const [w, timeline, commands] = await Promise.all([
    api(`/api/workspaces/${enc}`),
    api(`/api/workspaces/${enc}/timeline?order=desc&limit=50`),
    api(`/api/workspaces/${enc}/commands?order=desc&limit=50`),
  ]);
  if (selected !== ws) return;
  const info = [el('h2', null, ws)];
  if (w.status) info.push(el('div', null, `${w.status.workshop_name} · step ${w.status.current_step ?? '-'} · ${(w.status.steps_completed ?? []).length} done · goss ${w.status.last_goss_passed ?? '-'}`));
  $('detail-info').replaceChildren(...info);
  // Asked for once the workspace is known to have one (a 404 is an error in the console); then on its events.
  if (w.recording_url && !recording.loaded) recording.refresh();
  $('detail-lists').replaceChildren(
    ...section('timeline (newest first)', timeline.items, (t) => `${t.timestamp}  ${t.event_type}${t.step_id ? ` ${t.step_id}` : ''}`),
    ...section('commands (newest first)', commands.items, (c) => `${c.timestamp}  [${c.exit_code}] ${c.command}`),
  );
}

function select(ws) {
  if (selected && rows.get(selected)) rows.get(selected).tr.classList.remove('selected');
  selected = ws;
  rows.get(ws).tr.classList.add('selected');
  // The player lives as long as the selection: the lists around it are redrawn, it is not.
  recording?.dispose();
  recording = createRecordingView(ws, askForToken);
  $('detail-info').replaceChildren(el('h2', null, ws));
  $('detail-lists').replaceChildren();
  $('detail-recording').replaceChildren(recording.el);
  $('detail').classList.add('open');
  void showDetail(ws).catch((err) => console.error(err));
}

$('filter').addEventListener('input', () => { for (const r of rows.values()) applyFilter(r); });
setInterval(() => { for (const [ws, r] of rows) r.tr.children[5].textContent = ago(r.data.last_activity); }, 5000);

follow();
loadAll().catch((err) => console.error(err));

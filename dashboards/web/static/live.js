// The console's live view: loads a snapshot of recent alerts and incidents,
// then follows GET /api/v1/stream, resuming after a drop from the last
// sequence number so that nothing that happened meanwhile is lost. Every
// value from the server is written with textContent, never as HTML.

const root = document.documentElement;
const assets = root.dataset.assets;
const lang = root.lang || 'vi';
const MAX_ROWS = 200;

let catalogue = {};
const t = (key) => catalogue[key] ?? key;
const timeFormat = new Intl.DateTimeFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', {
  dateStyle: 'short',
  timeStyle: 'medium',
});

const state = {
  seq: 0,
  epoch: '',
  retry: 0,
  alerts: new Map(), // id -> alert, oldest first
  incidents: new Map(), // id -> incident, least recently changed first
  fresh: new Set(), // ids that arrived live, highlighted once
};

function setStatus(s) {
  const el = document.getElementById('live-status');
  el.dataset.state = s;
  el.textContent = t(`status.${s}`);
}

function when(v) {
  const d = new Date(v);
  return Number.isNaN(d.getTime()) || d.getFullYear() < 2000 ? '' : timeFormat.format(d);
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  if (cls) td.className = cls;
  tr.append(td);
  return td;
}

function levelCell(tr, level) {
  const td = cell(tr, t(`level.${level}`));
  td.className = `level level-${level}`;
}

function upsert(map, item) {
  map.delete(item.id); // re-inserting moves it to the newest end
  map.set(item.id, item);
  while (map.size > MAX_ROWS) map.delete(map.keys().next().value);
}

function renderAlerts() {
  const body = document.querySelector('#alerts tbody');
  const rows = [];
  for (const a of [...state.alerts.values()].reverse()) {
    const tr = document.createElement('tr');
    tr.dataset.id = a.id;
    if (state.fresh.has(a.id)) tr.className = 'fresh';
    cell(tr, when(a.time), 'time');
    levelCell(tr, a.level);
    cell(tr, a.rule_title, 'rule');
    cell(tr, a.host);
    cell(tr, a.user);
    cell(tr, a.summary, 'summary');
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  document.getElementById('alert-count').textContent = String(state.alerts.size);
  document.getElementById('alerts-empty').hidden = state.alerts.size > 0;
}

function renderIncidents() {
  const body = document.querySelector('#incidents tbody');
  const rows = [];
  for (const i of [...state.incidents.values()].reverse()) {
    const tr = document.createElement('tr');
    tr.dataset.id = i.id;
    if (state.fresh.has(i.id)) tr.className = 'fresh';
    levelCell(tr, i.severity);
    cell(tr, i.title, 'title');
    cell(tr, t(`incident.${i.status}`), `status status-${i.status}`);
    cell(tr, String(i.alert_count ?? 0), 'num');
    cell(tr, when(i.last_seen), 'time');
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  document.getElementById('incident-count').textContent = String(state.incidents.size);
  document.getElementById('incidents-empty').hidden = state.incidents.size > 0;
}

function showHealth(data, seq) {
  const el = document.getElementById('health');
  const text = typeof data === 'string' ? data : data?.status ?? JSON.stringify(data);
  el.textContent = `${t('health.label')}: ${text}`;
  el.dataset.seq = String(seq);
  el.hidden = false;
}

async function loadSnapshot() {
  const r = await fetch('/console/live.json', { credentials: 'same-origin', cache: 'no-store' });
  if (r.status === 401 || r.status === 403) {
    location.assign('/login');
    return;
  }
  if (!r.ok) throw new Error(`snapshot: HTTP ${r.status}`);
  const s = await r.json();
  if (s.epoch !== state.epoch || s.seq > state.seq) {
    state.seq = s.seq;
    state.epoch = s.epoch;
  }
  for (const a of [...(s.alerts ?? [])].reverse()) upsert(state.alerts, a);
  for (const i of [...(s.incidents ?? [])].reverse()) upsert(state.incidents, i);
  renderAlerts();
  renderIncidents();
}

function handle(m) {
  switch (m.type) {
    case 'hello':
      state.epoch = m.data.epoch;
      state.retry = 0;
      setStatus('live');
      return;
    case 'reset':
      // The server no longer holds what we missed: follow from now and
      // reload the recent past.
      state.epoch = m.data.epoch;
      state.seq = m.seq;
      state.retry = 0;
      setStatus('live');
      loadSnapshot().catch(() => {});
      return;
  }
  if (m.seq > state.seq) state.seq = m.seq;
  switch (m.type) {
    case 'alert':
      state.fresh.add(m.data.id);
      upsert(state.alerts, m.data);
      renderAlerts();
      break;
    case 'incident':
      state.fresh.add(m.data.id);
      upsert(state.incidents, m.data);
      renderIncidents();
      break;
    case 'health':
      showHealth(m.data, m.seq);
      break;
  }
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = new URLSearchParams({ since: String(state.seq), epoch: state.epoch });
  const ws = new WebSocket(`${proto}//${location.host}/api/v1/stream?${q}`);
  ws.onmessage = (ev) => handle(JSON.parse(ev.data));
  ws.onclose = () => {
    setStatus('offline');
    const delay = Math.min(30000, 1000 * 2 ** state.retry++);
    setTimeout(reconnect, delay);
  };
}

async function reconnect() {
  // A websocket refusal hides its status: ask once whether we are still
  // signed in before trying again.
  try {
    const r = await fetch('/console/live.json', { method: 'HEAD', credentials: 'same-origin', cache: 'no-store' });
    if (r.status === 401 || r.status === 403) {
      location.assign('/login');
      return;
    }
  } catch {
    // The server is away: try the websocket anyway, it will fail and back off.
  }
  connect();
}

async function main() {
  setStatus('connecting');
  const r = await fetch(`${assets}/i18n/${lang}.json`);
  catalogue = await r.json();
  setStatus('connecting');
  await loadSnapshot();
  connect();
}

main().catch(() => setStatus('offline'));

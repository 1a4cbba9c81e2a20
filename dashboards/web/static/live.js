// The console's live view: a snapshot of recent alerts and incidents, then
// the live stream (stream.js), resumed after a drop without losing what
// happened meanwhile. Every value from the server is written with
// textContent, never as HTML.

import { load, t, when } from './i18n.js';
import { LiveStream } from './stream.js';

const MAX_ROWS = 200;

const state = {
  alerts: new Map(), // id -> alert, oldest first
  incidents: new Map(), // id -> incident, least recently changed first
  fresh: new Set(), // ids that arrived live, highlighted
};

function setStatus(s) {
  const el = document.getElementById('live-status');
  el.dataset.state = s;
  el.textContent = t(`status.${s}`);
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  if (cls) td.className = cls;
  tr.append(td);
  return td;
}

function levelCell(tr, level) {
  cell(tr, t(`level.${level}`), `level level-${level}`);
}

function upsert(map, item) {
  map.delete(item.id); // re-inserting moves it to the newest end
  map.set(item.id, item);
  while (map.size > MAX_ROWS) map.delete(map.keys().next().value);
}

function renderAlerts() {
  const rows = [];
  for (const a of [...state.alerts.values()].reverse()) {
    const tr = document.createElement('tr');
    tr.dataset.id = a.id;
    if (state.fresh.has(a.id)) tr.className = 'fresh';
    cell(tr, when(a.time), 'time');
    levelCell(tr, a.level);
    cell(tr, a.rule_title, 'rule');
    cell(tr, a.host, 'host');
    cell(tr, a.user);
    cell(tr, a.summary, 'summary');
    rows.push(tr);
  }
  document.querySelector('#alerts tbody').replaceChildren(...rows);
  document.getElementById('alert-count').textContent = String(state.alerts.size);
  document.getElementById('alerts-empty').hidden = state.alerts.size > 0;
}

function renderIncidents() {
  const rows = [];
  for (const i of [...state.incidents.values()].reverse()) {
    const tr = document.createElement('tr');
    tr.dataset.id = i.id;
    if (state.fresh.has(i.id)) tr.className = 'fresh';
    levelCell(tr, i.severity);
    const title = cell(tr, '', 'title');
    const a = document.createElement('a');
    a.href = `/incidents/${encodeURIComponent(i.id)}`;
    a.textContent = i.title ?? '';
    title.append(a);
    cell(tr, t(`incident.${i.status}`), `incident-status incident-${i.status}`);
    cell(tr, String(i.alert_count ?? 0), 'num');
    cell(tr, when(i.last_seen), 'time');
    rows.push(tr);
  }
  document.querySelector('#incidents tbody').replaceChildren(...rows);
  document.getElementById('incident-count').textContent = String(state.incidents.size);
  document.getElementById('incidents-empty').hidden = state.incidents.size > 0;
}

function showHealth(data, seq) {
  const el = document.getElementById('health');
  const text = typeof data === 'string' ? data : (data?.status ?? JSON.stringify(data));
  el.textContent = `${t('health.label')}: ${text}`;
  el.dataset.seq = String(seq);
  el.hidden = false;
}

const signedOut = () => location.assign('/login');

// loadSnapshot reads the recent past and returns the stream position it
// was taken at.
async function loadSnapshot() {
  const r = await fetch('/console/live.json', { credentials: 'same-origin', cache: 'no-store' });
  if (r.status === 401 || r.status === 403) {
    signedOut();
    return null;
  }
  if (!r.ok) throw new Error(`snapshot: HTTP ${r.status}`);
  const s = await r.json();
  for (const a of [...(s.alerts ?? [])].reverse()) upsert(state.alerts, a);
  for (const i of [...(s.incidents ?? [])].reverse()) upsert(state.incidents, i);
  renderAlerts();
  renderIncidents();
  return s;
}

const stream = new LiveStream({
  onStatus: setStatus,
  onSignedOut: signedOut,
  onReset: () => loadSnapshot().then((s) => s && stream.advance(s.seq, s.epoch)).catch(() => {}),
  onMessage(m) {
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
  },
});

async function main() {
  await load();
  setStatus('connecting');
  const s = await loadSnapshot();
  if (s) stream.start(s.seq, s.epoch);
}

main().catch(() => setStatus('offline'));

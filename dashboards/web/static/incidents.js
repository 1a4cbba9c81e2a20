// The incident queue: filters kept in the address (a queue can be
// bookmarked and shared), pages of GET /api/v1/incidents, live changes
// from the stream, bulk acknowledge and assign, and the keyboard:
// j/k or arrows move, x selects, Enter opens, a acknowledges, m assigns to me.

import { api, el, follow, levelEl, me, start, statusEl, t, tacticName, ago, when } from './common.js';

const PAGE = 50;
const levels = ['informational', 'low', 'medium', 'high', 'critical'];
const form = document.getElementById('filters');
const tbody = document.querySelector('#queue tbody');

const state = {
  items: new Map(), // id -> incident, in display order
  next: '',
  selected: new Set(),
  cursor: -1,
  fresh: new Set(),
};

// filters reads the form.
function filters() {
  const f = new FormData(form);
  return {
    status: f.getAll('status'),
    severity: f.get('severity') || '',
    assignee: (f.get('assignee') || '').trim(),
    system: (f.get('system') || '').trim(),
    since: f.get('since') || '',
    sort: f.get('sort') || 'updated',
  };
}

// fromAddress fills the form from the page's address.
function fromAddress() {
  const q = new URLSearchParams(location.search);
  if (q.has('status')) {
    const want = new Set(q.get('status').split(','));
    for (const c of form.querySelectorAll('input[name="status"]')) c.checked = want.has(c.value);
  }
  for (const k of ['severity', 'assignee', 'system', 'since', 'sort']) {
    if (q.has(k)) form.elements[k].value = q.get(k);
  }
}

function toAddress(f) {
  const q = new URLSearchParams();
  q.set('status', f.status.join(','));
  for (const k of ['severity', 'assignee', 'system', 'since']) if (f[k]) q.set(k, f[k]);
  if (f.sort !== 'updated') q.set('sort', f.sort);
  history.replaceState(null, '', `?${q}`);
}

function sinceTime(v) {
  const h = Number.parseInt(v, 10);
  return Number.isFinite(h) ? new Date(Date.now() - h * 3600e3).toISOString() : '';
}

function query(f, cursor) {
  const q = new URLSearchParams({ limit: String(PAGE), sort: f.sort });
  if (f.status.length) q.set('status', f.status.join(','));
  if (f.severity) q.set('severity', f.severity);
  if (f.assignee) q.set('assignee', f.assignee);
  if (f.system) q.set('system', f.system);
  if (f.since) q.set('since', sinceTime(f.since));
  if (cursor) q.set('cursor', cursor);
  return `/api/v1/incidents?${q}`;
}

// matches tells whether a live incident belongs in the queue as filtered.
function matches(inc, f) {
  if (f.status.length && !f.status.includes(inc.status)) return false;
  if (f.severity && levels.indexOf(inc.severity) < levels.indexOf(f.severity)) return false;
  if (f.assignee && inc.assignee !== f.assignee) return false;
  if (f.system && inc.system !== f.system) return false;
  return true;
}

function row(inc) {
  const tr = el('tr', { dataset: { id: inc.id }, tabindex: '-1', class: state.fresh.has(inc.id) ? 'fresh' : undefined });
  if (state.selected.has(inc.id)) tr.classList.add('selected');
  if (me.canWork) {
    const box = el('input', { type: 'checkbox', 'aria-label': t('incidents.select'), checked: state.selected.has(inc.id) });
    box.addEventListener('change', () => select(inc.id, box.checked));
    tr.append(el('td', { class: 'sel' }, box));
  }
  tr.append(
    el('td', {}, levelEl(inc.severity)),
    el('td', { class: 'title' }, el('a', { href: `/incidents/${inc.id}` }, inc.title)),
    el('td', {}, statusEl(inc.status)),
    el('td', { class: 'assignee' }, inc.assignee || '—'),
    el('td', {}, inc.system || ''),
    el('td', { class: 'tactics' }, (inc.tactics ?? []).map(tacticName).join(', ')),
    el('td', { class: 'num' }, String(inc.alert_count ?? 0)),
    el('td', { class: 'time', title: when(inc.last_seen) }, ago(inc.last_seen)),
    el('td', { class: 'time', title: when(inc.updated) }, ago(inc.updated)),
  );
  return tr;
}

function render() {
  tbody.replaceChildren(...[...state.items.values()].map(row));
  document.getElementById('incident-total').textContent = String(state.items.size);
  document.getElementById('queue-empty').hidden = state.items.size > 0;
  document.getElementById('more').hidden = !state.next;
  if (state.cursor >= 0) moveCursor(state.cursor, false);
  updateBulk();
  const names = new Set([me.name, ...[...state.items.values()].map((i) => i.assignee).filter(Boolean)]);
  document.getElementById('assignees').replaceChildren(...[...names].map((n) => el('option', { value: n })));
}

function showError(err) {
  const e = document.getElementById('queue-error');
  e.textContent = err ? `${t('error.load')}: ${err.message}` : '';
  e.hidden = !err;
}

async function reload() {
  const f = filters();
  toAddress(f);
  try {
    const page = await api('GET', query(f));
    state.items = new Map(page.items.map((i) => [i.id, i]));
    state.next = page.next ?? '';
    state.selected.clear();
    showError(null);
  } catch (err) {
    showError(err);
  }
  render();
}

async function more() {
  try {
    const page = await api('GET', query(filters(), state.next));
    for (const i of page.items) state.items.set(i.id, i);
    state.next = page.next ?? '';
  } catch (err) {
    showError(err);
  }
  render();
}

function rows() {
  return [...tbody.querySelectorAll('tr')];
}

function moveCursor(i, focus = true) {
  const rs = rows();
  for (const r of rs) r.classList.remove('cursor');
  if (!rs.length || i < 0 && state.cursor < 0 && !focus) {
    state.cursor = -1;
    return;
  }
  state.cursor = Math.max(0, Math.min(rs.length - 1, i));
  const r = rs[state.cursor];
  r.classList.add('cursor');
  if (focus) r.focus();
}

function select(id, on) {
  if (on) state.selected.add(id);
  else state.selected.delete(id);
  const r = tbody.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
  if (r) {
    r.classList.toggle('selected', on);
    const box = r.querySelector('input[type="checkbox"]');
    if (box) box.checked = on;
  }
  updateBulk();
}

function updateBulk() {
  if (!me.canWork) return;
  const n = state.selected.size;
  document.getElementById('selected-count').textContent = n ? t('incidents.selected').replace('{n}', String(n)) : t('incidents.none_selected');
  for (const id of ['bulk-ack', 'bulk-mine', 'bulk-assign']) document.getElementById(id).disabled = n === 0;
  const all = document.getElementById('select-all');
  all.checked = n > 0 && n === state.items.size;
  all.indeterminate = n > 0 && n < state.items.size;
}

// bulk applies a change to the selected incidents (or the one under the
// cursor when none is selected).
async function bulk(change) {
  let ids = [...state.selected];
  if (!ids.length && state.cursor >= 0) ids = [rows()[state.cursor]?.dataset.id].filter(Boolean);
  if (!ids.length) return;
  const out = document.getElementById('bulk-result');
  try {
    const res = await api('POST', '/api/v1/incidents/bulk', { ids, ...change });
    for (const inc of res.items) upsert(inc, false);
    state.selected.clear();
    render();
    out.textContent = t('incidents.bulk_done').replace('{n}', String(res.items.length)) +
      (res.errors.length ? ` ${t('incidents.bulk_failed').replace('{n}', String(res.errors.length))}` : '');
  } catch (err) {
    out.textContent = err.message;
  }
}

// upsert takes a new or changed incident; it leaves the queue when it no
// longer matches the filters.
function upsert(inc, live) {
  const f = filters();
  if (!matches(inc, f)) {
    state.items.delete(inc.id);
    state.selected.delete(inc.id);
    return;
  }
  if (live) state.fresh.add(inc.id);
  if (state.items.has(inc.id) && (f.sort !== 'updated' || !live)) {
    state.items.set(inc.id, inc);
    return;
  }
  state.items.delete(inc.id);
  state.items = new Map([[inc.id, inc], ...state.items]);
}

function keys() {
  document.addEventListener('keydown', (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = ev.target?.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || tag === 'BUTTON') return;
    const cur = rows()[state.cursor];
    switch (ev.key) {
      case 'j':
      case 'ArrowDown':
        moveCursor(state.cursor + 1);
        break;
      case 'k':
      case 'ArrowUp':
        moveCursor(state.cursor - 1);
        break;
      case 'x':
      case ' ':
        if (cur && me.canWork) select(cur.dataset.id, !state.selected.has(cur.dataset.id));
        break;
      case 'Enter':
      case 'o':
        if (cur) location.assign(`/incidents/${cur.dataset.id}`);
        break;
      case 'a':
        if (me.canWork) bulk({ status: 'acknowledged' });
        break;
      case 'm':
        if (me.canWork) bulk({ assignee: me.name });
        break;
      default:
        return;
    }
    ev.preventDefault();
  });
}

async function main() {
  await start();
  fromAddress();
  form.addEventListener('change', reload);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    reload();
  });
  document.getElementById('more').addEventListener('click', more);
  if (me.canWork) {
    document.getElementById('bulk-ack').addEventListener('click', () => bulk({ status: 'acknowledged' }));
    document.getElementById('bulk-mine').addEventListener('click', () => bulk({ assignee: me.name }));
    document.getElementById('bulk-assign').addEventListener('click', () => {
      const a = document.getElementById('bulk-assignee').value.trim();
      if (a) bulk({ assignee: a });
    });
    document.getElementById('select-all').addEventListener('change', (ev) => {
      for (const id of state.items.keys()) select(id, ev.target.checked);
    });
  }
  keys();
  await reload();
  // "5 minutes ago" stays true.
  setInterval(() => {
    if (!document.hidden) render();
  }, 30_000);
  follow((m) => {
    if (m.type !== 'incident') return;
    upsert(m.data, true);
    render();
  }, reload);
}

main().catch((err) => showError(err));

// One incident: its facts, the timeline of its alerts (each opens onto its
// events and their raw records), entities, ATT&CK tactics, notes and
// history; an analyst changes the status, assigns, adds notes and
// suppresses a rule from here. Changes made elsewhere arrive live.

import { api, el, follow, levelEl, me, sourceOf, start, statusEl, t, tacticName, techniqueName, when } from './common.js';

const id = document.body.dataset.id;

// next are the statuses an incident may move to (correlate/lifecycle.go).
const next = {
  new: ['acknowledged', 'investigating', 'resolved', 'false_positive'],
  acknowledged: ['investigating', 'resolved', 'false_positive'],
  investigating: ['resolved', 'false_positive'],
  resolved: ['investigating'],
  false_positive: ['investigating'],
};

// searchField is the event field of each entity kind.
const searchField = { host: 'host.name', user: 'user.name', database: 'db.name', 'source.ip': 'source.ip' };

let current = null;

const $ = (x) => document.getElementById(x);

function quote(v) {
  return `"${String(v).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

function renderHead(inc) {
  document.title = `${inc.title} · vigil`;
  $('inc-severity').replaceWith(Object.assign(levelEl(inc.severity), { id: 'inc-severity' }));
  $('inc-title').textContent = inc.title;
  $('inc-status').replaceChildren(statusEl(inc.status));
  $('inc-assignee').textContent = inc.assignee || t('incident.unassigned');
  $('inc-system').textContent = inc.system || '—';
  $('inc-alerts').textContent = String(inc.alert_count ?? 0);
  $('inc-first').textContent = when(inc.first_seen);
  $('inc-last').textContent = when(inc.last_seen);
  if (me.canWork) {
    const sel = $('status-select');
    sel.replaceChildren(...(next[inc.status] ?? []).map((s) => el('option', { value: s }, t(`incident.${s}`))));
    sel.disabled = sel.options.length === 0;
    $('assign-input').placeholder = inc.assignee || '';
  }
}

function eventView(ev) {
  const src = sourceOf(ev);
  const fields = Object.entries(ev).filter(([k]) => k !== 'event.original');
  return el('li', { class: 'event' },
    el('span', { class: 'time' }, when(ev['@timestamp'])), ' ',
    el('span', { class: 'muted' }, src), ' ',
    el('span', {}, ev.message ?? ev['db.statement'] ?? ''),
    el('details', {},
      el('summary', {}, t('search.raw')),
      el('table', { class: 'fields' }, ...fields.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, typeof v === 'string' ? v : JSON.stringify(v))))),
      ev['event.original'] ? el('pre', { class: 'raw' }, ev['event.original']) : null));
}

function alertItem(a) {
  const events = el('ol', { class: 'events', hidden: true });
  const btn = el('button', { type: 'button', class: 'secondary small', 'aria-expanded': 'false' }, t('incident.show_events'));
  btn.addEventListener('click', async () => {
    const open = btn.getAttribute('aria-expanded') === 'true';
    btn.setAttribute('aria-expanded', String(!open));
    btn.textContent = open ? t('incident.show_events') : t('incident.hide_events');
    events.hidden = open;
    if (open || events.childElementCount) return;
    try {
      const r = await api('GET', `/api/v1/alerts/${a.id}`);
      events.replaceChildren(...(r.events.length ? r.events.map(eventView) : [el('li', { class: 'muted' }, t('incident.no_events'))]));
    } catch (err) {
      events.replaceChildren(el('li', { class: 'error' }, err.message));
    }
  });
  const ents = [['host', a.host], ['user', a.user], ['database', a.database], ['source.ip', a.source_ip]].filter(([, v]) => v);
  return el('li', { class: `alert level-border-${a.level}`, dataset: { id: a.id } },
    el('div', { class: 'alert-head' },
      el('span', { class: 'time' }, when(a.time)), ' ', levelEl(a.level), ' ',
      el('strong', {}, a.rule_title), ' ',
      el('span', { class: 'muted' }, ents.map(([k, v]) => `${t(`entity.${k.replace('.', '_')}`)}: ${v}`).join(' · '))),
    a.summary ? el('p', { class: 'summary' }, a.summary) : null,
    (a.tags ?? []).length ? el('p', { class: 'tags' }, ...(a.tags ?? []).map((tg) => el('span', { class: 'chip small' }, /^attack\.t\d/i.test(tg) ? techniqueName(tg) : tg.startsWith('attack.') ? tacticName(tg) : tg))) : null,
    btn, events);
}

function render(r) {
  const inc = r.incident;
  current = r;
  renderHead(inc);
  $('timeline').replaceChildren(...(r.alerts.length ? r.alerts.map(alertItem) : [el('li', { class: 'muted' }, t('incident.no_alerts'))]));
  $('entities').replaceChildren(...(inc.entities ?? []).map((e) => {
    const f = searchField[e.kind];
    const label = `${t(`entity.${e.kind.replace('.', '_')}`)}: ${e.value}`;
    return el('li', { class: 'chip' }, f ? el('a', { href: `/search?q=${encodeURIComponent(`${f}:${quote(e.value)}`)}` }, label) : label);
  }));
  $('tactics').replaceChildren(...(inc.tactics ?? []).map((tc) => el('li', { class: 'chip tactic' }, tacticName(tc))));
  if (!(inc.tactics ?? []).length) $('tactics').append(el('li', { class: 'muted' }, '—'));
  $('notes').replaceChildren(...r.notes.map((n) => el('li', {},
    el('div', { class: 'muted' }, `${when(n.time)} · ${n.actor}`), el('p', { class: 'note-text' }, n.text))));
  if (!r.notes.length) $('notes').append(el('li', { class: 'muted' }, t('incident.no_notes')));
  $('history').replaceChildren(...r.history.map((h) => el('li', {},
    el('span', { class: 'muted' }, `${when(h.time)} · ${h.actor}: `),
    `${t(`history.${h.field}`)} `, h.field === 'status' ? statusEl(h.from || 'new') : (h.from || '—'), ' → ',
    h.field === 'status' ? statusEl(h.to) : (h.to || '—'))));
  if (!r.history.length) $('history').append(el('li', { class: 'muted' }, t('incident.no_history')));
  if (me.canWork) {
    const rules = new Map();
    for (const a of r.alerts) rules.set(a.rule_id, a);
    $('suppress-rule').replaceChildren(...[...rules.values()].map((a) =>
      el('option', { value: a.rule_id }, a.host ? `${a.rule_title} · ${t('entity.host')}: ${a.host}` : a.rule_title)));
  }
  $('incident').hidden = false;
}

// suppressions lists those in force over the incident's rules.
async function suppressions(r) {
  let items = [];
  try {
    items = (await api('GET', '/api/v1/suppressions')).items ?? [];
  } catch {
    return;
  }
  const rules = new Map(r.alerts.map((a) => [a.rule_id, a.rule_title]));
  const mine = items.filter((sp) => !sp.rule || rules.has(sp.rule));
  $('suppressions').replaceChildren(...(mine.length ? mine.map((sp) => {
    const scope = Object.entries(sp.fields ?? {}).map(([k, v]) => `${k}=${v}`).join(', ');
    const li = el('li', { dataset: { id: sp.id } },
      el('div', {}, el('strong', {}, sp.rule ? (rules.get(sp.rule) ?? sp.rule) : t('incident.any_rule')), scope ? ` · ${scope}` : ''),
      el('div', { class: 'muted' }, `${t('incident.until')} ${when(sp.until)} · ${sp.author ?? ''} · ${t('incident.silenced').replace('{n}', String(sp.hits ?? 0))}`),
      sp.reason ? el('p', { class: 'note-text' }, sp.reason) : null);
    if (me.canWork) {
      li.append(el('button', { type: 'button', class: 'secondary small', onclick: () =>
        act(() => api('DELETE', `/api/v1/suppressions/${encodeURIComponent(sp.id)}`), t('incident.unsuppressed')) }, t('action.unsuppress')));
    }
    return li;
  }) : [el('li', { class: 'muted' }, t('incident.no_suppressions'))]));
}

async function reload() {
  try {
    const r = await api('GET', `/api/v1/incidents/${encodeURIComponent(id)}`);
    render(r);
    suppressions(r);
    $('incident-error').hidden = true;
  } catch (err) {
    $('incident-error').textContent = err.status === 404 ? t('incident.not_found') : `${t('error.load')}: ${err.message}`;
    $('incident-error').hidden = false;
  }
}

function said(msg) {
  $('action-result').textContent = msg;
}

async function act(fn, done) {
  try {
    await fn();
    said(done);
    await reload();
  } catch (err) {
    said(err.message);
  }
}

function wire() {
  if (!me.canWork) return;
  $('status-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const status = $('status-select').value;
    if (status) act(() => api('PATCH', `/api/v1/incidents/${id}`, { status }), t('incident.status_changed'));
  });
  $('assign-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const assignee = $('assign-input').value.trim();
    act(() => api('PATCH', `/api/v1/incidents/${id}`, { assignee }), t('incident.assigned'));
  });
  $('assign-me').addEventListener('click', () =>
    act(() => api('PATCH', `/api/v1/incidents/${id}`, { assignee: me.name }), t('incident.assigned')));
  $('note-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('note-text').value.trim();
    if (!text) return;
    act(async () => {
      await api('POST', `/api/v1/incidents/${id}/notes`, { text });
      $('note-text').value = '';
    }, t('incident.note_added'));
  });
  $('suppress-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const rule = $('suppress-rule').value;
    const a = current?.alerts.find((x) => x.rule_id === rule);
    const body = { rule, duration: $('suppress-duration').value, reason: $('suppress-reason').value.trim() };
    if (a?.host) body.fields = { host: a.host };
    act(() => api('POST', '/api/v1/suppressions', body), t('incident.suppressed'));
  });
}

// keys: a assigns to me, n writes a note, u goes back to the queue.
function keys() {
  document.addEventListener('keydown', (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = ev.target?.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') return;
    if (ev.key === 'u') location.assign('/incidents');
    else if (ev.key === 'a' && me.canWork) $('assign-me').click();
    else if (ev.key === 'n' && me.canWork) $('note-text').focus();
    else return;
    ev.preventDefault();
  });
}

async function main() {
  await start();
  wire();
  keys();
  await reload();
  follow((m) => {
    if (m.type === 'incident' && m.data.id === id) reload();
  }, reload);
}

main();

// Event search: the query bar (field names suggested as one types), a
// histogram of the matching events over the chosen time range, the
// results newest first with each record opening onto its fields and raw
// line, CSV export of the same query, and saved searches. The query and
// range live in the address, so a search can be shared as a link.

import { api, el, me, sourceOf, start, t, when, follow, numberFormat } from './common.js';
import { TimeChart } from './chart.js';

const PAGE = 50;
const $ = (x) => document.getElementById(x);
const qInput = $('q');
const state = { next: '', fields: [], saved: [], range: null, sugg: -1 };

function range() {
  const v = $('range').value;
  const h = Number.parseFloat(v);
  const mins = v.endsWith('m') ? h : h * 60;
  const to = new Date();
  return { from: new Date(to.getTime() - mins * 60e3).toISOString(), to: to.toISOString() };
}

function params(extra) {
  const q = new URLSearchParams({ q: qInput.value.trim(), from: state.range.from, to: state.range.to, ...extra });
  return q.toString();
}

// --- suggestions -----------------------------------------------------------

// token is the word being typed at the caret, and where it starts.
function token() {
  const v = qInput.value;
  const end = qInput.selectionStart ?? v.length;
  let start = end;
  while (start > 0 && !/[\s()]/.test(v[start - 1])) start--;
  return { text: v.slice(start, end), start, end };
}

function hideSuggestions() {
  $('suggestions').hidden = true;
  qInput.setAttribute('aria-expanded', 'false');
  state.sugg = -1;
}

// values caches the frequent values of each field, from
// GET /api/v1/events/values.
const values = new Map();

async function valuesOf(field) {
  if (!values.has(field)) {
    const p = api('GET', `/api/v1/events/values?${new URLSearchParams({ field })}`).then((r) => r.items ?? []);
    values.set(field, p);
    // A failed or empty answer is not kept: the next colon asks again
    // (the events may not be stored yet).
    p.then((items) => { if (!items.length) values.delete(field); }, () => values.delete(field));
  }
  return values.get(field).catch(() => []);
}

// quoteValue writes a value as the query language reads it.
function quoteValue(v) {
  return /^[\w.][\w.-]*$/u.test(v) ? v : `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

function showSuggestions(items) {
  if (!items.length) return hideSuggestions();
  $('suggestions').replaceChildren(...items.map((it, i) => {
    const li = el('li', { role: 'option', id: `sugg-${i}`, dataset: { insert: it.insert } }, it.label,
      it.count ? el('span', { class: 'muted' }, ` ${numberFormat.format(it.count)}`) : null);
    li.addEventListener('mousedown', (ev) => {
      ev.preventDefault();
      accept(it.insert);
    });
    return li;
  }));
  state.sugg = -1;
  $('suggestions').hidden = false;
  qInput.setAttribute('aria-expanded', 'true');
}

// suggest offers field names while a field is typed, and the field's
// frequent values after its colon.
async function suggest() {
  const tok = token();
  const w = tok.text.replace(/^[-!]/, '');
  if (!w || /^(and|or|not)$/i.test(w)) return hideSuggestions();
  const colon = w.indexOf(':');
  if (colon > 0) {
    const field = w.slice(0, colon);
    const typed = w.slice(colon + 1).replace(/^"/, '').toLowerCase();
    const vals = await valuesOf(field);
    if (token().text !== tok.text) return; // typed on meanwhile
    return showSuggestions(vals.filter((c) => c.key.toLowerCase().includes(typed)).slice(0, 10)
      .map((c) => ({ label: c.key, count: c.count, insert: `${field}:${quoteValue(c.key)} ` })));
  }
  const lw = w.toLowerCase();
  const starts = state.fields.filter((f) => f.toLowerCase().startsWith(lw));
  const inner = state.fields.filter((f) => !f.toLowerCase().startsWith(lw) && f.toLowerCase().includes(lw));
  showSuggestions([...starts, ...inner].slice(0, 10).map((f) => ({ label: f, insert: `${f}:` })));
}

// accept replaces the word at the caret with text.
function accept(text) {
  const tok = token();
  const v = qInput.value;
  const neg = /^[-!]/.test(tok.text) ? tok.text[0] : '';
  qInput.value = `${v.slice(0, tok.start)}${neg}${text}${v.slice(tok.end)}`;
  const pos = tok.start + neg.length + text.length;
  qInput.setSelectionRange(pos, pos);
  hideSuggestions();
  qInput.focus();
  if (text.endsWith(':')) suggest();
}

function moveSuggestion(d) {
  const items = [...$('suggestions').children];
  if (!items.length) return;
  state.sugg = (state.sugg + d + items.length) % items.length;
  items.forEach((li, i) => li.setAttribute('aria-selected', String(i === state.sugg)));
  qInput.setAttribute('aria-activedescendant', items[state.sugg].id);
}

qInput.addEventListener('input', suggest);
qInput.addEventListener('blur', () => setTimeout(hideSuggestions, 100));
qInput.addEventListener('keydown', (ev) => {
  if ($('suggestions').hidden) return;
  const items = [...$('suggestions').children];
  if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
    ev.preventDefault();
    moveSuggestion(ev.key === 'ArrowDown' ? 1 : -1);
  } else if ((ev.key === 'Enter' || ev.key === 'Tab') && state.sugg >= 0) {
    ev.preventDefault();
    accept(items[state.sugg].dataset.insert);
  } else if (ev.key === 'Escape') {
    hideSuggestions();
  }
});

// --- results ---------------------------------------------------------------

function fieldsTable(ev) {
  return el('table', { class: 'fields' }, ...Object.entries(ev).filter(([k]) => k !== 'event.original').map(([k, v]) =>
    el('tr', {}, el('th', {}, k), el('td', {}, typeof v === 'string' ? v : JSON.stringify(v)))));
}

function resultRows(ev) {
  const tr = el('tr', { class: 'result', tabindex: '0', 'aria-expanded': 'false' },
    el('td', { class: 'time' }, when(ev['@timestamp'])),
    el('td', { class: 'host' }, ev['host.name'] ?? ''),
    el('td', { class: 'muted' }, sourceOf(ev)),
    el('td', {}, ev['user.name'] ?? ev['db.user'] ?? ''),
    el('td', { class: 'message' }, ev.message ?? ev['db.statement'] ?? ''));
  const detail = el('tr', { class: 'detail', hidden: true },
    el('td', { colspan: '5' }, fieldsTable(ev),
      ev['event.original'] ? el('div', {}, el('h3', {}, t('search.raw')), el('pre', { class: 'raw' }, ev['event.original'])) : null));
  const toggle = () => {
    const open = tr.getAttribute('aria-expanded') === 'true';
    tr.setAttribute('aria-expanded', String(!open));
    detail.hidden = open;
  };
  tr.addEventListener('click', toggle);
  tr.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      toggle();
    } else if (e.key === 'j' || e.key === 'ArrowDown') {
      e.preventDefault();
      detail.nextElementSibling?.focus();
    } else if (e.key === 'k' || e.key === 'ArrowUp') {
      e.preventDefault();
      tr.previousElementSibling?.previousElementSibling?.focus();
    }
  });
  return [tr, detail];
}

function showError(err) {
  $('search-error').textContent = err ? err.message : '';
  $('search-error').hidden = !err;
}

const histogram = new TimeChart($('histogram'), { label: () => t('search.matching') });

async function run() {
  state.range = range();
  const q = new URLSearchParams({ q: qInput.value.trim(), range: $('range').value });
  history.replaceState(null, '', `?${q}`);
  $('export').href = `/api/v1/events/export?${params()}`;
  showError(null);
  const tbody = document.querySelector('#results tbody');
  try {
    const [h, page] = await Promise.all([
      api('GET', `/api/v1/events/histogram?${params({ buckets: '60' })}`),
      api('GET', `/api/v1/events?${params({ limit: String(PAGE) })}`),
    ]);
    const total = h.series.reduce((a, s) => a + s.total, 0);
    $('hits').textContent = numberFormat.format(total);
    histogram.set({ ...h, series: h.series.map((s) => ({ ...s, key: 'accent' })) });
    tbody.replaceChildren(...page.items.flatMap(resultRows));
    state.next = page.next ?? '';
    $('results-empty').hidden = page.items.length > 0;
  } catch (err) {
    tbody.replaceChildren();
    $('hits').textContent = '0';
    state.next = '';
    showError(err);
  }
  $('more').hidden = !state.next;
}

async function more() {
  try {
    const page = await api('GET', `/api/v1/events?${params({ limit: String(PAGE), cursor: state.next })}`);
    document.querySelector('#results tbody').append(...page.items.flatMap(resultRows));
    state.next = page.next ?? '';
  } catch (err) {
    showError(err);
  }
  $('more').hidden = !state.next;
}

// --- saved searches --------------------------------------------------------

async function loadSaved() {
  try {
    state.saved = (await api('GET', '/api/v1/searches')).items;
  } catch {
    state.saved = [];
  }
  $('saved').replaceChildren(el('option', { value: '' }, '—'),
    ...state.saved.map((s) => el('option', { value: String(s.id), title: s.query }, s.name)));
}

function wireSaved() {
  const said = (m) => ($('saved-result').textContent = m);
  $('saved').addEventListener('change', () => {
    const s = state.saved.find((x) => String(x.id) === $('saved').value);
    if (me.canWork) $('delete-saved').disabled = !s;
    if (!s) return;
    qInput.value = s.query;
    if (me.canWork) $('save-name').value = s.name;
    run();
  });
  if (!me.canWork) return;
  $('save').addEventListener('click', async () => {
    const name = $('save-name').value.trim();
    if (!name) {
      said(t('search.name_needed'));
      $('save-name').focus();
      return;
    }
    try {
      const s = await api('POST', '/api/v1/searches', { name, query: qInput.value.trim() });
      await loadSaved();
      $('saved').value = String(s.id);
      said(t('search.saved_done'));
    } catch (err) {
      said(err.message);
    }
  });
  $('delete-saved').addEventListener('click', async () => {
    const id = $('saved').value;
    if (!id) return;
    try {
      await api('DELETE', `/api/v1/searches/${encodeURIComponent(id)}`);
      await loadSaved();
      $('delete-saved').disabled = true;
      said(t('search.deleted'));
    } catch (err) {
      said(err.message);
    }
  });
}

async function main() {
  await start();
  const u = new URLSearchParams(location.search);
  if (u.has('q')) qInput.value = u.get('q');
  if (u.has('range')) $('range').value = u.get('range');
  $('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    hideSuggestions();
    run();
  });
  $('range').addEventListener('change', run);
  $('more').addEventListener('click', more);
  wireSaved();
  api('GET', '/api/v1/events/fields').then((r) => (state.fields = r.items)).catch(() => {});
  loadSaved();
  await run();
  follow(() => {}, () => {});
}

main().catch(showError);

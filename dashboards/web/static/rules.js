// The rules page: every loaded rule with its level, status, log source,
// origin (bundled or a configured directory), how many alerts it raised
// and when last; and every rejected rule with the file and line of its
// error, as `vigil rules check` reports them.

import { api, el, levelEl, start, t, when, ago, numberFormat, follow, me } from './common.js';

const $ = (x) => document.getElementById(x);
const levels = ['informational', 'low', 'medium', 'high', 'critical'];
const state = { rules: [], hits: {} };

function origin(path) {
  return path.startsWith('bundled:') ? t('rules.bundled') : t('rules.directory');
}

function render() {
  const f = $('rule-filter').value.trim().toLowerCase();
  const lvl = $('rule-level').value;
  const sort = $('rule-sort').value;
  let list = state.rules.filter((r) => (!lvl || r.level === lvl) &&
    (!f || `${r.id} ${r.title} ${r.path} ${(r.tags ?? []).join(' ')}`.toLowerCase().includes(f)));
  const hits = (r) => state.hits[r.id]?.count ?? 0;
  const last = (r) => Date.parse(state.hits[r.id]?.last ?? '') || 0;
  const cmp = {
    hits: (a, b) => hits(b) - hits(a) || last(b) - last(a) || a.title.localeCompare(b.title),
    last: (a, b) => last(b) - last(a) || a.title.localeCompare(b.title),
    title: (a, b) => a.title.localeCompare(b.title),
    level: (a, b) => levels.indexOf(b.level) - levels.indexOf(a.level) || a.title.localeCompare(b.title),
  }[sort];
  list = list.sort(cmp);
  $('rule-count').textContent = `${list.length} / ${state.rules.length}`;
  document.querySelector('#rules tbody').replaceChildren(...list.map((r) => {
    const h = state.hits[r.id];
    const src = [r.logsource?.product, r.logsource?.category, r.logsource?.service].filter(Boolean).join('/');
    return el('tr', { dataset: { id: r.id } },
      el('td', {}, levelEl(r.level)),
      el('td', {}, el('div', {}, r.title), el('div', { class: 'muted small' }, r.id)),
      el('td', {}, r.status || '—'),
      el('td', {}, src || '—'),
      el('td', { title: r.path }, origin(r.path), el('div', { class: 'muted small path' }, r.path)),
      el('td', { class: 'num' }, numberFormat.format(h?.count ?? 0)),
      el('td', { class: 'time', title: h ? when(h.last) : '' }, h ? ago(h.last) : t('rules.never')),
      el('td', {}, enabledCell(r)));
  }));
}

// enabledCell shows whether the rule runs, and lets those who manage
// rules switch it.
function enabledCell(r) {
  const label = r.disabled ? t('rules.disabled') : t('rules.enabled');
  if (!me.canManageRules) return el('span', { class: r.disabled ? 'muted' : '' }, label);
  const b = el('button', { type: 'button', class: 'toggle', 'aria-pressed': String(!r.disabled),
    title: r.disabled ? t('rules.enable') : t('rules.disable') }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await api(r.disabled ? 'DELETE' : 'PUT', `/api/v1/rules/${encodeURIComponent(r.id)}/disabled`);
      r.disabled = !r.disabled;
      render();
    } catch (err) {
      $('rules-error').textContent = `${t('error.load')}: ${err.message}`;
      $('rules-error').hidden = false;
      b.disabled = false;
    }
  });
  return b;
}

async function load() {
  try {
    const [rules, hits] = await Promise.all([api('GET', '/api/v1/rules'), api('GET', '/api/v1/rules/hits')]);
    state.rules = rules.items;
    state.hits = hits.items ?? {};
    $('errors-section').hidden = rules.errors.length === 0;
    $('error-count').textContent = String(rules.errors.length);
    document.querySelector('#rule-errors tbody').replaceChildren(...rules.errors.map((e) =>
      el('tr', {}, el('td', { class: 'path' }, e.line ? `${e.path}:${e.line}` : e.path), el('td', { class: 'error' }, e.error))));
    $('rules-error').hidden = true;
  } catch (err) {
    $('rules-error').textContent = `${t('error.load')}: ${err.message}`;
    $('rules-error').hidden = false;
  }
  render();
}

async function main() {
  await start();
  for (const id of ['rule-filter', 'rule-level', 'rule-sort']) $(id).addEventListener('input', render);
  await load();
  let soon = null;
  follow((m) => {
    if (m.type !== 'alert' || soon) return;
    soon = setTimeout(async () => {
      soon = null;
      try {
        state.hits = (await api('GET', '/api/v1/rules/hits')).items ?? {};
        render();
      } catch {
        // the next alert tries again
      }
    }, 2000);
  }, load);
}

main();

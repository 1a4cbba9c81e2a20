// Dashboards for the SOC's wall screen: events per second by log source,
// alerts over time by level, the top rules, hosts, users and databases of
// the alerts, an ATT&CK heatmap (tactics in matrix order, techniques under
// them, the colour by count) and the fleet (every host and log source seen
// this week, how fresh). Refreshed every 30 seconds and soon after a live
// alert; "wall" mode enlarges everything.

import { api, el, follow, start, t, tacticName, tacticOrder, techniqueName, when, ago, numberFormat } from './common.js';
import { TimeChart } from './chart.js';

const $ = (x) => document.getElementById(x);
const REFRESH = 30_000;

const eps = new TimeChart($('eps'), { lines: true, rate: true });
const alerts = new TimeChart($('alert-chart'), { stacked: true, label: (k) => t(`level.${k}`) });

function span() {
  const h = Number.parseFloat($('range').value);
  const to = new Date();
  return { from: new Date(to.getTime() - h * 3600e3).toISOString(), to: to.toISOString() };
}

function bars(id, items, label = (k) => k, href) {
  const max = Math.max(1, ...items.map((c) => c.count));
  $(id).replaceChildren(...(items.length ? items.map((c) => {
    const fill = el('span', { class: 'fill' });
    fill.style.width = `${(100 * c.count) / max}%`;
    const name = href ? el('a', { href: href(c.key) }, label(c.key)) : label(c.key);
    return el('li', { title: `${label(c.key)}: ${c.count}` }, el('span', { class: 'bar-label' }, name),
      el('span', { class: 'bar' }, fill), el('span', { class: 'num' }, numberFormat.format(c.count)));
  }) : [el('li', { class: 'muted' }, t('dashboards.none'))]));
}

const quote = (v) => `"${String(v).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

// heatmap draws one column per tactic, in the order of the ATT&CK matrix,
// with its techniques below; a technique seen without a tactic goes under
// "other".
function heatmap(cells) {
  const byTactic = new Map();
  for (const c of cells) {
    const k = c.tactic ? c.tactic.replace(/^attack\./, '').replaceAll('_', '-') : '';
    if (!byTactic.has(k)) byTactic.set(k, []);
    byTactic.get(k).push(c);
  }
  const max = Math.max(1, ...cells.map((c) => c.count));
  const order = [...tacticOrder.filter((k) => byTactic.has(k)), ...[...byTactic.keys()].filter((k) => !tacticOrder.includes(k))];
  if (!order.length) {
    $('attack').replaceChildren(el('p', { class: 'muted' }, t('dashboards.none')));
    return;
  }
  $('attack').replaceChildren(...order.map((k) => {
    const list = byTactic.get(k);
    const total = list.reduce((a, c) => a + c.count, 0);
    return el('div', { class: 'tactic-col' },
      el('h3', {}, k ? tacticName(k) : t('dashboards.other'), ' ', el('span', { class: 'num' }, numberFormat.format(total))),
      ...list.filter((c) => c.technique || list.length === 1).map((c) => {
        const cell = el('div', { class: 'cell', title: `${c.technique ? techniqueName(c.technique) : '—'}: ${c.count}` },
          el('span', {}, c.technique ? techniqueName(c.technique) : '—'), el('span', { class: 'num' }, numberFormat.format(c.count)));
        cell.style.setProperty('--heat', String(0.15 + (0.85 * c.count) / max));
        return cell;
      }));
  }));
}

// freshness classes a log source by the age of its latest arrival.
function freshness(received, now) {
  const age = now - Date.parse(received);
  if (age < 5 * 60e3) return ['fresh-ok', t('dashboards.fresh_ok')];
  if (age < 60 * 60e3) return ['fresh-warn', t('dashboards.fresh_warn')];
  return ['fresh-bad', t('dashboards.fresh_bad')];
}

function fleet(items, nowISO) {
  const now = Date.parse(nowISO) || Date.now();
  $('fleet-count').textContent = String(items.length);
  const rows = items.map((f) => {
    const [cls, label] = freshness(f.received, now);
    return el('tr', { class: cls },
      el('td', { class: 'host' }, f.host || '—'),
      el('td', {}, f.source || '—'),
      el('td', { class: 'fresh' }, el('span', { class: 'dot', 'aria-hidden': 'true' }), ` ${label} · ${ago(f.received, now)}`),
      el('td', { class: 'time' }, when(f.last)),
      el('td', { class: 'num' }, numberFormat.format(f.events)));
  });
  document.querySelector('#fleet tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '5', class: 'muted' }, t('dashboards.no_sources')))]));
}

// tiles shows the numbers a wall screen is read for first.
function tiles(o) {
  const step = o.events.span.step_ns / 1e9;
  const sum = (h) => h.series.reduce((a, s) => a + s.total, 0);
  // The rate of the last full bucket: the current one is still filling.
  const n = o.events.span.buckets;
  const last = n >= 2 ? o.events.series.reduce((a, s) => a + s.counts[n - 2], 0) : 0;
  $('tile-eps').textContent = numberFormat.format(Math.round((last / step) * 10) / 10);
  $('tile-events').textContent = numberFormat.format(sum(o.events));
  $('tile-alerts').textContent = numberFormat.format(sum(o.alerts));
  const open = o.open ?? {};
  const total = Object.values(open).reduce((a, b) => a + b, 0);
  $('tile-open').textContent = numberFormat.format(total);
  $('tile-open').className = `tile-value ${open.critical ? 'level-critical' : open.high ? 'level-high' : ''}`;
  $('tile-open-detail').replaceChildren(...['critical', 'high', 'medium', 'low', 'informational'].filter((l) => open[l])
    .map((l) => el('span', { class: `level level-${l}` }, `${t(`level.${l}`)} ${numberFormat.format(open[l])} `)));
}

async function refresh() {
  try {
    const s = span();
    const o = await api('GET', `/api/v1/overview?${new URLSearchParams({ ...s, buckets: '60' })}`);
    eps.set(o.events);
    tiles(o);
    alerts.set(o.alerts);
    const search = (f) => (k) => `/search?q=${encodeURIComponent(`${f}:${quote(k)}`)}`;
    bars('top-rule', o.top.rule ?? [], (k) => k.split('\t')[1] || k.split('\t')[0]);
    bars('top-host', o.top.host ?? [], undefined, search('host.name'));
    bars('top-user', o.top.user ?? []);
    bars('top-database', o.top.database ?? [], undefined, search('db.name'));
    heatmap(o.attack ?? []);
    fleet(o.fleet ?? [], o.now);
    $('fleet-partial').hidden = o.fleet_complete !== false;
    $('updated').textContent = `${t('dashboards.updated')} ${when(o.now)}`;
    $('dash-error').hidden = true;
  } catch (err) {
    $('dash-error').textContent = `${t('error.load')}: ${err.message}`;
    $('dash-error').hidden = false;
  }
}

let soon = null;
function refreshSoon() {
  if (soon) return;
  soon = setTimeout(() => {
    soon = null;
    refresh();
  }, 2000);
}

async function main() {
  await start();
  const u = new URLSearchParams(location.search);
  if (u.has('range')) $('range').value = u.get('range');
  const wall = (on) => {
    document.body.classList.toggle('wall', on);
    document.documentElement.classList.toggle('wall', on);
  };
  if (u.get('wall') === '1') wall(true);
  $('wall').setAttribute('aria-pressed', String(document.body.classList.contains('wall')));
  $('range').addEventListener('change', () => {
    const q = new URLSearchParams(location.search);
    q.set('range', $('range').value);
    history.replaceState(null, '', `?${q}`);
    refresh();
  });
  $('wall').addEventListener('click', () => {
    const on = !document.body.classList.contains('wall');
    wall(on);
    $('wall').setAttribute('aria-pressed', String(on));
    const q = new URLSearchParams(location.search);
    if (on) q.set('wall', '1');
    else q.delete('wall');
    history.replaceState(null, '', `?${q}`);
    eps.u?.destroy();
    alerts.u?.destroy();
    eps.u = alerts.u = null;
    refresh();
  });
  await refresh();
  setInterval(refresh, REFRESH);
  follow((m) => {
    if (m.type === 'alert') refreshSoon();
  }, refresh);
}

main();

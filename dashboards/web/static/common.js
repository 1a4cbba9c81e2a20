// What every console page shares: calls to the API (with the session's
// CSRF token on changes), building elements (text only: every value from
// the server goes through textContent, never HTML), the live indicator and
// stream, and the keyboard shortcuts of the navigation.

import { load, t, when } from './i18n.js';
import { LiveStream } from './stream.js';

const body = document.body;

// me is the signed-in user and what the role may do.
export const me = {
  name: body.dataset.user || '',
  canWork: body.dataset.canWork === 'true',
  canManageRules: body.dataset.canManageRules === 'true',
  csrf: body.dataset.csrf || '',
};

export class APIError extends Error {
  constructor(status, kind, message) {
    super(message);
    this.status = status;
    this.kind = kind;
  }
}

const signedOut = () => location.assign('/login');

// api calls the JSON API; a body is sent as JSON with the CSRF token.
export async function api(method, path, data) {
  const init = { method, credentials: 'same-origin', cache: 'no-store', headers: {} };
  if (data !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(data);
  }
  if (method !== 'GET' && method !== 'HEAD') init.headers['X-CSRF-Token'] = me.csrf;
  const r = await fetch(path, init);
  if (r.status === 401) {
    signedOut();
    throw new APIError(401, 'unauthenticated', t('error.signed_out'));
  }
  if (r.status === 204) return null;
  let out = null;
  try {
    out = await r.json();
  } catch {
    out = null;
  }
  if (!r.ok) {
    const kind = out?.error ?? 'http';
    const msg = r.status === 403 ? t('error.forbidden_action') : (out?.message ?? `HTTP ${r.status}`);
    throw new APIError(r.status, kind, msg);
  }
  return out;
}

// el makes an element: el('td', {class: 'x', dataset: {id}}, 'text', child).
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export const levelEl = (level) => el('span', { class: `level level-${level}` }, t(`level.${level}`));
export const statusEl = (status) => el('span', { class: `incident-status incident-${status}` }, t(`incident.${status}`));

// tacticName translates an ATT&CK tactic tag (attack.credential-access).
const tactics = {
  reconnaissance: () => t('tactic.reconnaissance'),
  'resource-development': () => t('tactic.resource_development'),
  'initial-access': () => t('tactic.initial_access'),
  execution: () => t('tactic.execution'),
  persistence: () => t('tactic.persistence'),
  'privilege-escalation': () => t('tactic.privilege_escalation'),
  'defense-evasion': () => t('tactic.defense_evasion'),
  'credential-access': () => t('tactic.credential_access'),
  discovery: () => t('tactic.discovery'),
  'lateral-movement': () => t('tactic.lateral_movement'),
  collection: () => t('tactic.collection'),
  'command-and-control': () => t('tactic.command_and_control'),
  exfiltration: () => t('tactic.exfiltration'),
  impact: () => t('tactic.impact'),
};

// tacticOrder is the order of the ATT&CK enterprise matrix.
export const tacticOrder = Object.keys(tactics);

export function tacticName(tag) {
  const k = String(tag ?? '').toLowerCase().replace(/^attack\./, '').replaceAll('_', '-');
  return tactics[k] ? tactics[k]() : k;
}

export function techniqueName(tag) {
  return String(tag ?? '').replace(/^attack\./i, '').toUpperCase();
}

export { t, when };

// sourceOf is an event's log source, product/category/service.
export function sourceOf(ev) {
  return [ev['logsource.product'], ev['logsource.category'], ev['logsource.service']].filter(Boolean).join('/');
}

// ago says how long ago a time was, in the page's language.
export function ago(v, now = Date.now()) {
  const d = new Date(v).getTime();
  if (Number.isNaN(d) || d <= 0) return '';
  const s = Math.max(0, Math.round((now - d) / 1000));
  const rtf = new Intl.RelativeTimeFormat(document.documentElement.lang || 'vi', { numeric: 'auto' });
  if (s < 60) return rtf.format(-s, 'second');
  if (s < 3600) return rtf.format(-Math.round(s / 60), 'minute');
  if (s < 86400) return rtf.format(-Math.round(s / 3600), 'hour');
  return rtf.format(-Math.round(s / 86400), 'day');
}

export const numberFormat = new Intl.NumberFormat(document.documentElement.lang === 'en' ? 'en-GB' : 'vi-VN');

function setStatus(s) {
  const e = document.getElementById('live-status');
  if (!e) return;
  e.dataset.state = s;
  e.textContent = t(`status.${s}`);
}

// follow starts the live stream from now on: onMessage gets alert,
// incident and health messages, onReset is called when the page should
// reload what it shows (messages were missed).
export function follow(onMessage, onReset = () => {}) {
  const stream = new LiveStream({ onStatus: setStatus, onSignedOut: signedOut, onReset, onMessage });
  stream.startFresh();
  return stream;
}

// shortcuts: "g" then a page's key goes to it (g i: incidents); "/"
// focuses the page's search field; "?" shows the help.
function shortcuts() {
  let g = false;
  document.addEventListener('keydown', (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = ev.target?.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || ev.target?.isContentEditable) return;
    if (g) {
      g = false;
      const a = document.querySelector(`nav.pages a[data-key="${CSS.escape(ev.key)}"]`);
      if (a) {
        ev.preventDefault();
        location.assign(a.getAttribute('href'));
      }
      return;
    }
    if (ev.key === 'g') {
      g = true;
      setTimeout(() => (g = false), 1500);
    } else if (ev.key === '/') {
      const f = document.querySelector('[data-focus-key="/"]');
      if (f) {
        ev.preventDefault();
        f.focus();
      }
    }
  });
}

// start loads the catalogue and sets up what every page has.
export async function start() {
  await load();
  shortcuts();
}

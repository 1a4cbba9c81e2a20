// The console's message catalogues: web/static/i18n/LANG.json, one per
// language, loaded once per page. The language is the page's <html lang>.

const root = document.documentElement;
export const lang = root.lang || 'vi';
let catalogue = {};

// load fetches the catalogue of the page's language.
export async function load() {
  const r = await fetch(`${root.dataset.assets}/i18n/${lang}.json`);
  if (!r.ok) throw new Error(`catalogue: HTTP ${r.status}`);
  catalogue = await r.json();
}

// t translates a key; a missing key shows as itself.
export const t = (key) => catalogue[key] ?? key;

const timeFormat = new Intl.DateTimeFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', {
  dateStyle: 'short',
  timeStyle: 'medium',
});

// when formats an RFC 3339 time for people; empty for a zero time.
export function when(v) {
  const d = new Date(v);
  return Number.isNaN(d.getTime()) || d.getFullYear() < 2000 ? '' : timeFormat.format(d);
}

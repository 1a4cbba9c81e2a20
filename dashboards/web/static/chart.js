// Time charts on uPlot (vendor/uPlot.esm.js, MIT, see
// vendor/uPlot.LICENSE.txt): a histogram from the API ({span, series})
// drawn as bars (stacked) or lines, sized to its container and redrawn
// when the window changes size. Colours come from the stylesheet.

import uPlot from './vendor/uPlot.esm.js';
import { numberFormat, t, when } from './common.js';

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

const palette = ['--accent', '--low', '--high', '--medium', '--critical', '--ok', '--violet', '--pink', '--muted'];

// colorOf picks a key's colour: a level's own, else the palette in turn.
export function colorOf(key, i) {
  const own = css(`--${key}`);
  return own || css(palette[i % palette.length]) || '#3fb8af';
}

function size(el) {
  const w = Math.max(200, el.clientWidth || el.parentElement?.clientWidth || 600);
  const h = Math.max(140, Math.round(Number.parseFloat(css('--chart-height')) || 220));
  return { width: w, height: h };
}

// TimeChart draws one histogram in el.
export class TimeChart {
  // opts: stacked (bars stacked), lines (lines instead of bars),
  // rate (divide by the step in seconds: per second), label(key).
  constructor(el, opts = {}) {
    this.el = el;
    this.o = opts;
    this.u = null;
    this.keys = '';
    addEventListener('resize', () => this.resize());
  }

  resize() {
    if (this.u) this.u.setSize(size(this.el));
  }

  // set draws h = {span: {from, step_ns, buckets}, series: [{key, counts}]}.
  set(h) {
    const step = h.span.step_ns / 1e9;
    const from = Date.parse(h.span.from) / 1000;
    const xs = Array.from({ length: h.span.buckets }, (_, i) => from + i * step);
    const div = this.o.rate ? step : 1;
    const raw = h.series.map((s) => s.counts.map((c) => c / div));
    let ys = raw;
    if (this.o.stacked) {
      // Cumulative sums, drawn largest first so that each bar shows its part.
      ys = raw.map((_, i) => raw[0].map((__, j) => raw.slice(i).reduce((a, r) => a + r[j], 0)));
    }
    const keys = h.series.map((s) => s.key).join('\u0000');
    const data = [xs, ...ys];
    if (this.u && keys === this.keys && this.u.data[0].length === xs.length) {
      this.raw = raw;
      this.u.setData(data);
      return;
    }
    this.keys = keys;
    this.raw = raw;
    if (this.u) this.u.destroy();
    const label = this.o.label ?? ((k) => k);
    const fmt = (v) => (v == null ? '' : numberFormat.format(Math.round(v * 100) / 100));
    const lang = document.documentElement.lang === 'en' ? 'en-GB' : 'vi-VN';
    const long = h.span.buckets * step > 86400;
    const tick = new Intl.DateTimeFormat(lang, long ? { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' } : { hour: '2-digit', minute: '2-digit' });
    const series = [{ label: t('col.time'), value: (u, v) => (v == null ? '' : when(v * 1000)) }];
    h.series.forEach((s, i) => {
      const c = colorOf(s.key, i);
      series.push({
        label: label(s.key),
        stroke: c,
        width: this.o.lines ? 2 : 0,
        fill: this.o.lines ? undefined : c,
        points: { show: false },
        paths: this.o.lines ? undefined : uPlot.paths.bars({ size: [0.9, 60], align: 1 }),
        value: (u, v, si, idx) => (idx == null ? '' : fmt(this.raw[si - 1]?.[idx])),
      });
    });
    const axis = { stroke: css('--muted'), grid: { stroke: css('--line'), width: 1 }, ticks: { stroke: css('--line') },
      font: `${css('--chart-font') || '12px'} system-ui, sans-serif` };
    this.u = new uPlot({
      ...size(this.el),
      series,
      // The x range ends a step after the last bucket: each bar spans its step.
      scales: { x: { time: true, range: () => [xs[0], xs[xs.length - 1] + step] }, y: { range: (u, min, max) => [0, Math.max(1, max) * 1.05] } },
      axes: [{ ...axis, values: (u, vals) => vals.map((v) => tick.format(new Date(v * 1000))) }, { ...axis, size: 60, values: (u, vals) => vals.map(fmt) }],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
    }, data, this.el);
  }
}

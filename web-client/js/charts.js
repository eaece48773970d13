// Small SVG charts for the operator pages: a sparkline per tile, a line chart over a session.
// Plain SVG, no library; every chart carries a text label for screen readers.

const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** The largest value, at least `floor` (so a flat line at zero stays at the bottom). */
function top(values, floor) {
  return values.reduce((m, v) => (Number.isFinite(v) && v > m ? v : m), floor);
}

/**
 * A sparkline of `values` (oldest first; null for "not measured").
 * `label` names it for screen readers; `floor` is the least full scale.
 */
export function sparkline(values, { label, width = 120, height = 28, floor = 1, cls = '' } = {}) {
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: `spark ${cls}` });
  const last = [...values].reverse().find((v) => Number.isFinite(v));
  svg.setAttribute('aria-label', `${label}: ${last === undefined ? '—' : round(last)}`);
  const title = el('title');
  title.textContent = svg.getAttribute('aria-label');
  svg.append(title);
  const max = top(values, floor);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  let d = '';
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    const x = (i * step).toFixed(1);
    const y = (height - 2 - (v / max) * (height - 4)).toFixed(1);
    d += `${d && Number.isFinite(values[i - 1]) ? 'L' : 'M'}${x} ${y}`;
  });
  svg.append(el('path', { d, fill: 'none', 'stroke-width': 1.6 }));
  return svg;
}

export function round(v) {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 10) / 10;
}

/**
 * A line chart: `series` = [{ name, points: [[x, y|null], …] }], x in seconds. Lines are
 * coloured in order by CSS (.series-0, .series-1, …); a legend names them.
 */
export function lineChart(series, { label, unit = '', width = 640, height = 200, floor = 1 } = {}) {
  const pad = { l: 44, r: 10, t: 10, b: 24 };
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart', preserveAspectRatio: 'xMinYMin meet' });
  svg.setAttribute('aria-label', label);
  const title = el('title');
  title.textContent = label;
  svg.append(title);
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = top(xs, 60);
  const yMax = top(ys, floor);
  const X = (x) => pad.l + (x / xMax) * (width - pad.l - pad.r);
  const Y = (y) => height - pad.b - (y / yMax) * (height - pad.t - pad.b);
  for (const frac of [0, 0.5, 1]) {
    const y = Y(yMax * frac);
    svg.append(el('line', { x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: 'grid-line' }));
    const t = el('text', { x: pad.l - 4, y: y + 4, 'text-anchor': 'end', class: 'axis' });
    t.textContent = `${round(yMax * frac)}${unit}`;
    svg.append(t);
  }
  for (const frac of [0, 0.5, 1]) {
    const t = el('text', { x: X(xMax * frac), y: height - 6, 'text-anchor': frac === 0 ? 'start' : frac === 1 ? 'end' : 'middle', class: 'axis' });
    t.textContent = clock(xMax * frac);
    svg.append(t);
  }
  series.forEach((s, i) => {
    let d = '';
    let prev = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y)) {
        prev = false;
        continue;
      }
      d += `${prev ? 'L' : 'M'}${X(x).toFixed(1)} ${Y(y).toFixed(1)}`;
      prev = true;
    }
    const path = el('path', { d, fill: 'none', class: `series series-${i % 6}` });
    const name = el('title');
    name.textContent = s.name;
    path.append(name);
    svg.append(path);
    // A single sample still shows.
    if (s.points.filter((p) => Number.isFinite(p[1])).length === 1) {
      const [x, y] = s.points.find((p) => Number.isFinite(p[1]));
      svg.append(el('circle', { cx: X(x), cy: Y(y), r: 3, class: `series series-${i % 6}` }));
    }
  });
  return svg;
}

/** A legend for a line chart's series. */
export function legend(names) {
  const ul = document.createElement('ul');
  ul.className = 'legend';
  names.forEach((n, i) => {
    const li = document.createElement('li');
    li.className = `series-${i % 6}`;
    li.textContent = n;
    ul.append(li);
  });
  return ul;
}

/** "m:ss" for seconds. */
export function clock(secs) {
  const s = Math.round(secs);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

'use strict';
// The review page of a smear run (mmcell.review.write_review_page): the differential count,
// the white-cell gallery with reassignment, the fields, and the corrections file.
// Everything here works from a file: no server, no network.

const RUN = JSON.parse(document.getElementById('run-data').textContent);
const UNIDENTIFIED = RUN.unidentified_label;
const NOT_WHITE = RUN.not_white_label;
const OPTIONS = [...RUN.classes, UNIDENTIFIED, NOT_WHITE];
// The white-cell differential (mmcell.uncertainty.white_cell_differential): the classes the
// run records as nucleated red cells (per 100 white cells) and as not white cells (apart) are
// in no row of the percentages; the rest are the leukocyte classes.
const NUCLEATED_RED = RUN.classes.filter(name => (RUN.nucleated_red || []).includes(name));
const NOT_WHITE_CLASSES = RUN.classes.filter(name => (RUN.not_white || []).includes(name));
const WHITE = RUN.classes.filter(name => !NUCLEATED_RED.includes(name) &&
                                         !NOT_WHITE_CLASSES.includes(name));
window.mmcellClasses = {white: WHITE, nucleatedRed: NUCLEATED_RED, notWhite: NOT_WHITE_CLASSES};
const STORE = 'mmcell-review-' + RUN.id;

// Per cell id: {label, reviewed}. Unreviewed cells keep their predicted class.
let review = {};
try { review = JSON.parse(window.localStorage.getItem(STORE)) || {}; } catch (e) { review = {}; }
const CELL_IDS = new Set(RUN.cells.map(cell => cell.id));
for (const [id, entry] of Object.entries(review)) {  // keep only what this page can show
  if (!CELL_IDS.has(id) || !entry || !OPTIONS.includes(entry.label)) delete review[id];
}

function labelOf(cell) { return (review[cell.id] || {}).label || cell.predicted; }
function persist() {
  try { window.localStorage.setItem(STORE, JSON.stringify(review)); } catch (e) { /* private */ }
}

// ---- exact binomial (Clopper-Pearson) interval, as mmcell.uncertainty.proportion_interval ----
const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028,
  771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7];
function logGamma(x) {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = LANCZOS[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}
function betaFraction(a, b, x) {  // continued fraction of the incomplete beta (Lentz)
  const tiny = 1e-300;
  let c = 1, d = 1 - (a + b) * x / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let h = d;
  for (let m = 1; m <= 500; m++) {
    for (const num of [m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                       -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))]) {
      d = 1 + num * d; d = 1 / (Math.abs(d) < tiny ? tiny : d);
      c = 1 + num / c; c = Math.abs(c) < tiny ? tiny : c;
      h *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-15) break;
  }
  return h;
}
function betaCdf(x, a, b) {  // regularised incomplete beta I_x(a, b)
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) +
                         a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? front * betaFraction(a, b, x) / a
    : 1 - front * betaFraction(b, a, 1 - x) / b;
}
function betaQuantile(q, a, b) {
  let lo = 0, hi = 1;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (betaCdf(mid, a, b) < q) lo = mid; else hi = mid;
  }
  return (lo + hi) / 2;
}
function proportionInterval(k, n, confidence) {
  const alpha = 1 - confidence;
  return [k === 0 ? 0 : betaQuantile(alpha / 2, k, n - k + 1),
          k === n ? 1 : betaQuantile(1 - alpha / 2, k + 1, n - k)];
}
window.mmcellProportionInterval = proportionInterval;

// ---- counts ----
function tally() {
  const counts = Object.fromEntries(RUN.classes.map(name => [name, 0]));
  let unidentified = 0, notWhite = 0, reviewed = 0, reassigned = 0;
  for (const cell of RUN.cells) {
    const label = labelOf(cell);
    if (label === NOT_WHITE) notWhite++;
    else if (label === UNIDENTIFIED) unidentified++;
    else counts[label]++;
    if (review[cell.id]) { reviewed++; if (label !== cell.predicted) reassigned++; }
  }
  const identified = WHITE.reduce((sum, name) => sum + counts[name], 0);
  return {counts, identified, unidentified, notWhite, reviewed, reassigned,
          total: identified + unidentified};
}
function percentCells(count, total) {
  if (!total) return ['\u2014', ''];
  const [low, high] = proportionInterval(count, total, RUN.confidence);
  return [(100 * count / total).toFixed(1),
          `${(100 * low).toFixed(1)}\u2013${(100 * high).toFixed(1)}`];
}
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
function swatch(name) {
  return el('span', {class: 'swatch', style: `background:${RUN.colours[name] || '#888'}`});
}

function renderCounts() {
  const t = tally();
  const predicted = Object.fromEntries(OPTIONS.map(name => [name, 0]));
  for (const cell of RUN.cells) predicted[cell.predicted]++;
  const body = document.querySelector('#differential tbody');
  body.replaceChildren();
  const row = (name, count, cells, cls, note, per100 = '') => {
    const tr = el('tr', {'data-class': name, class: cls || ''});
    if (count !== predicted[name] && name in predicted) tr.classList.add('changed');
    tr.append(el('td', {}, swatch(name), note || name), el('td', {text: String(count)}),
              el('td', {text: cells[0]}), el('td', {text: RUN.intervals ? cells[1] : ''}),
              el('td', {text: per100}));
    body.append(tr);
  };
  for (const name of WHITE) {
    row(name, t.counts[name], percentCells(t.counts[name], t.identified));
  }
  row('identified', t.identified, [t.identified ? '100.0' : '\u2014', ''], 'apart',
      'identified white cells');
  row(UNIDENTIFIED, t.unidentified, percentCells(t.unidentified, t.total), 'apart',
      `${UNIDENTIFIED} (% of all ${t.total} white cells)`);
  for (const name of NUCLEATED_RED) {
    row(name, t.counts[name], ['', ''], 'apart', `${name} (nucleated red cell)`,
        t.identified ? (100 * t.counts[name] / t.identified).toFixed(1) : '\u2014');
  }
  for (const name of NOT_WHITE_CLASSES) {
    row(name, t.counts[name], ['', ''], 'apart', `${name} (not a white cell)`);
  }
  row(NOT_WHITE, t.notWhite, ['', ''], 'apart', `${NOT_WHITE} (reassigned, not counted)`);
  document.getElementById('changes').textContent = t.reviewed
    ? `${t.reviewed} cells reviewed, ${t.reassigned} reassigned` : 'no cell reviewed yet';
  renderChart(t);
}

function renderChart(t) {
  const svg = document.getElementById('chart');
  const names = [...WHITE, UNIDENTIFIED];
  const barH = 18, labelW = 110, width = 420, maxW = width - labelW - 50;
  svg.setAttribute('width', width);
  svg.setAttribute('height', names.length * barH + 4);
  const ns = 'http://www.w3.org/2000/svg';
  svg.replaceChildren();
  names.forEach((name, i) => {
    const count = name === UNIDENTIFIED ? t.unidentified : t.counts[name];
    const share = name === UNIDENTIFIED ? (t.total ? count / t.total : 0)
      : (t.identified ? count / t.identified : 0);
    const y = i * barH + 2;
    const label = document.createElementNS(ns, 'text');
    label.setAttribute('x', 0); label.setAttribute('y', y + 12); label.textContent = name;
    const bar = document.createElementNS(ns, 'rect');
    bar.setAttribute('x', labelW); bar.setAttribute('y', y);
    bar.setAttribute('width', Math.max(0, share * maxW)); bar.setAttribute('height', barH - 4);
    bar.setAttribute('fill', RUN.colours[name] || '#888');
    bar.setAttribute('data-class', name);
    const value = document.createElementNS(ns, 'text');
    value.setAttribute('x', labelW + share * maxW + 4); value.setAttribute('y', y + 12);
    value.textContent = `${(100 * share).toFixed(1)}% (${count})`;
    svg.append(label, bar, value);
  });
}

// ---- gallery ----
function cardState(card, cell) {
  const entry = review[cell.id];
  card.classList.toggle('reviewed', Boolean(entry));
  card.classList.toggle('reassigned', Boolean(entry) && entry.label !== cell.predicted);
  card.querySelector('select').value = labelOf(cell);
}
function showInField(cell) {
  document.querySelectorAll('.mark').forEach(mark => mark.remove());
  document.querySelectorAll('.flash').forEach(node => node.classList.remove('flash'));
  const field = RUN.fields[cell.field];
  const frame = document.querySelector(`#field-${cell.field} .frame`);
  const [x1, y1, x2, y2] = cell.box;
  frame.append(el('div', {class: 'mark', style:
    `left:${100 * x1 / field.width}%;top:${100 * y1 / field.height}%;` +
    `width:${100 * (x2 - x1) / field.width}%;height:${100 * (y2 - y1) / field.height}%`}));
  frame.parentElement.classList.add('flash');
  frame.parentElement.scrollIntoView({block: 'center'});
}
function renderGallery() {
  const gallery = document.getElementById('gallery');
  if (!RUN.cells.length) {
    gallery.append(el('p', {id: 'no-cells', text:
      `No white cells were found in the ${plural(RUN.fields.length, 'field')} of this run.`}));
    return;
  }
  for (const name of [...RUN.classes, UNIDENTIFIED]) {
    const cells = RUN.cells.filter(cell => cell.predicted === name)
      .sort((a, b) => a.score - b.score);
    if (!cells.length) continue;
    const crops = el('div', {class: 'crops'});
    for (const cell of cells) {
      const select = el('select', {'aria-label': `class of cell ${cell.id}`},
        ...OPTIONS.map(option => el('option', {value: option, text: option})));
      const confirm = el('button', {class: 'confirm', type: 'button', title: 'confirm',
                                    text: '\u2713'});
      const img = el('img', {src: cell.crop, alt: `cell ${cell.id}`, loading: 'lazy'});
      const card = el('figure', {class: 'crop', id: `cell-${cell.id}`, 'data-cell': cell.id},
        img, el('div', {class: 'line'}, el('span', {text: `p=${cell.score.toFixed(2)}`}), confirm),
        select);
      const set = label => {
        review[cell.id] = {label};
        persist(); cardState(card, cell); renderCounts();
      };
      select.addEventListener('change', () => set(select.value));
      confirm.addEventListener('click', () => set(labelOf(cell)));
      img.addEventListener('click', () => showInField(cell));
      cardState(card, cell);
      crops.append(card);
    }
    gallery.append(el('div', {class: 'group', 'data-class': name},
      el('h3', {}, swatch(name), `${name} (${cells.length})`), crops));
  }
}

// ---- fields and skipped images ----
function renderFields() {
  const fields = document.getElementById('fields');
  RUN.fields.forEach((field, i) => {
    const whites = RUN.cells.filter(cell => cell.field === i).length;
    fields.append(el('figure', {class: 'field', id: `field-${i}`},
      // width/height reserve the picture's place before it loads, so the layout holds still
      el('div', {class: 'frame'}, el('img', {src: field.picture, alt: field.image,
                                             width: field.width, height: field.height,
                                             loading: 'lazy'})),
      el('figcaption', {text: `${field.image}: ${field.cells} cells, ${whites} white`})));
  });
  if (RUN.skipped.length) {
    document.getElementById('skipped-section').hidden = false;
    const list = document.getElementById('skipped');
    for (const item of RUN.skipped) list.append(el('li', {text: `${item.image}: ${item.reason}`}));
  }
}

// ---- corrections file ----
function corrections() {
  const cells = RUN.cells.filter(cell => review[cell.id]).map(cell => ({
    id: cell.id, crop: cell.crop, image: RUN.fields[cell.field].image, box: cell.box,
    predicted: cell.predicted, label: review[cell.id].label}));
  return {format: 'mmcell-corrections', version: 1, run_id: RUN.id, classes: RUN.classes,
          saved: new Date().toISOString(), cells};
}
window.mmcellCorrections = corrections;
document.getElementById('save').addEventListener('click', () => {
  const blob = new Blob([JSON.stringify(corrections(), null, 1)], {type: 'application/json'});
  const link = el('a', {href: URL.createObjectURL(blob),
                        download: `corrections-${RUN.id.slice(0, 8)}.json`});
  document.body.append(link);
  link.click();
  link.remove();
});
document.getElementById('reset').addEventListener('click', () => {
  if (!window.confirm('Forget every reassignment and confirmation on this page?')) return;
  review = {};
  persist();
  document.querySelectorAll('.crop').forEach(card =>
    cardState(card, RUN.cells.find(cell => cell.id === card.dataset.cell)));
  renderCounts();
});

const names = paths => paths.split(' ').map(p => p.split('/').pop()).join(' + ');
const summary = document.getElementById('summary');
summary.textContent =
  `${plural(RUN.fields.length, 'field')}, ${plural(RUN.cells.length, 'white cell')}` +
  (RUN.skipped.length ? `, ${plural(RUN.skipped.length, 'image')} not read` : '') +
  ` \u00b7 classifier ${names(RUN.classifier)} \u00b7 detector ${names(RUN.detector)}` +
  ` \u00b7 run ${RUN.created}`;
summary.title = `classifier: ${RUN.classifier}\ndetector: ${RUN.detector}\nrun id: ${RUN.id}`;
const APART = (NUCLEATED_RED.length ? ` Nucleated red cells (${NUCLEATED_RED.join(', ')}) are` +
  ' counted apart, per 100 identified white cells.' : '') +
  (NOT_WHITE_CLASSES.length ? ` Cells classified as ${NOT_WHITE_CLASSES.join(', ')} are not` +
  ' white cells and are counted apart, as are cells reassigned to' +
  ` \u201c${NOT_WHITE}\u201d.` : ` Cells reassigned to \u201c${NOT_WHITE}\u201d are not counted.`);
document.getElementById('method').textContent = RUN.intervals
  ? `Class percentages are of the identified white cells; ${Math.round(100 * RUN.confidence)}%` +
    ' intervals are exact binomial (Clopper-Pearson, the limits of R\u00fcmke\'s table).' +
    ' Unidentified cells are counted apart, as a share of all white cells.' + APART
  : 'Class percentages are of the identified white cells.' + APART;
renderGallery();
renderFields();
renderCounts();
performance.mark('mmcell-rendered');

// holefill's page: open an image, paint the hole, pick a method and its options, fill (with
// the server's progress, and a Cancel that stops the server's job), compare, download.
// Plain JavaScript modules, no build step, nothing loaded from other origins:
//   js/api.js       the REST API: methods, fill jobs with progress and cancel
//   js/viewport.js  zoom and pan (wheel, pinch, keys)
//   js/mask.js      the mask: painting, undo/redo, import/export
//   js/options.js   a method's options as form inputs, from the method table
//   js/modes.js     inpaint, outpaint: panels, stage and request per mode
//   js/damage.js    Find damage: a blind model marks the damage on the mask, a slider sets how much
//   js/guide.js     the guide photo: with one loaded, inpainting is guided (a guided method, the guide sent)
// This file holds the page's state and wires them together.

import { ServerError, getMethods, startFill } from './js/api.js';
import { DamageFinder } from './js/damage.js';
import { GuideSlot } from './js/guide.js';
import { $, hideError, isTyping, saveBlob, setBodyState, showError, showWarning, status } from './js/dom.js';
import { MaskLayer } from './js/mask.js';
import { MODES, PANELS } from './js/modes.js';
import { OptionsForm } from './js/options.js';
import { Viewport } from './js/viewport.js';

const el = {
  file: $('file'), drop: $('drop'), stage: $('stage'), editor: $('editor'), wrap: $('wrap'), view: $('view'),
  image: $('image-canvas'), mask: $('mask-canvas'), cursor: $('cursor'),
  compare: $('compare'), compareWrap: $('compare-wrap'), before: $('before'), after: $('after'),
  divider: $('divider'), slider: $('compare-slider'),
  method: $('method'), summary: $('method-summary'),
  brush: $('tool-brush'), eraser: $('tool-eraser'), size: $('size'), sizeOut: $('size-out'),
  undo: $('undo'), redo: $('redo'), clear: $('clear'),
  maskFile: $('mask-file'), maskExport: $('mask-export'),
  zoomIn: $('zoom-in'), zoomOut: $('zoom-out'), zoomFit: $('zoom-fit'), zoomLevel: $('zoom-level'),
  find: $('find-damage'), damageRow: $('damage-row'), damageSlider: $('damage-sensitivity'),
  damageOut: $('damage-out'), damageHint: $('damage-hint'),
  guide: $('guide-group'), guideFile: $('guide-file'), guideOpen: $('guide-open'), guideClear: $('guide-clear'),
  guideThumb: $('guide-thumb'), guideCaption: $('guide-caption'),
  run: $('run'), cancel: $('cancel'), spinner: $('spinner'), progress: $('progress'),
  results: $('result-actions'), download: $('download'), back: $('back'), keep: $('keep'),
};
const imageCtx = el.image.getContext('2d');

const page = {
  file: null,          // the Blob sent to the server: the user's file as it is
  name: 'image',       // the file's base name, for the download's name only
  bitmap: null,
  width: 0,
  height: 0,
  mode: 'inpaint',
  methods: new Map(),  // name -> the method table's row (with its options)
  choice: {},          // task -> the method last picked for it (the picker goes back to it)
  job: null,           // the running server job: a fill or a search for damage (api.startFill)
  timer: 0,
  urls: [],            // object URLs to revoke when a new result comes
  result: null,        // {blob, url, method}
  view: 'editor',      // 'editor' or 'compare'
  mask: null,
  stagePng: () => new Promise((resolve) => el.image.toBlob(resolve, 'image/png')),
  guide: () => guide.file, // the guide photo (a Blob) or null
};
const running = () => page.job !== null;

const mask = new MaskLayer(el.mask, { onChange: () => updateButtons() });
page.mask = mask;
const damage = new DamageFinder(
  { button: el.find, row: el.damageRow, slider: el.damageSlider, out: el.damageOut, hint: el.damageHint },
  {
    mask,
    runJob: (job) => runJob(job),
    image: () => page.file,
    picked: () => el.method.value,
    usable: () => !!page.bitmap && page.mode === 'inpaint' && page.view === 'editor' && !running(),
    busy: running,
  },
);
const guide = new GuideSlot(
  {
    group: el.guide, input: el.guideFile, open: el.guideOpen, clear: el.guideClear,
    thumb: el.guideThumb, caption: el.guideCaption,
  },
  {
    changed: () => { offerMethods(); updateButtons(); },
    usable: () => page.mode === 'inpaint' && page.view === 'editor' && !running(),
  },
);
const viewport = new Viewport(el.wrap, el.view, {
  onChange: (v) => {
    updateCursorSize();
    el.zoomLevel.textContent = `${Math.round(v.scale * 100)}%`;
    el.wrap.classList.toggle('pixelated', (el.wrap.clientWidth / Math.max(1, el.image.width)) * v.scale >= 2);
  },
  onGesture: () => mask.abandon(),
});
const optionsForm = new OptionsForm($('options'), $('options-body'));

// ---------------------------------------------------------------- methods and options

async function loadMethods() {
  try {
    const methods = await getMethods();
    damage.setMethods(methods);
    guide.setMethods(methods);
    el.method.textContent = '';
    for (const m of methods) {
      // Fillers only: upscalers do not fill, and generators fill only images of their own size.
      // Guided methods fill too, from a guide photo (offered while one is loaded).
      const guided = (m.tasks || []).includes('guided');
      if (m.tasks && !guided && (!m.tasks.includes('inpaint') || m.tasks.includes('generate'))) continue;
      page.methods.set(m.name, m);
      const opt = document.createElement('option');
      opt.value = m.name;
      opt.textContent = !m.ready ? `${m.name} (needs weights)` : guided ? `${m.name} (with a guide)` : m.name;
      opt.title = m.summary;
      el.method.append(opt);
    }
    page.choice.inpaint = localStorage.getItem('holefill-method') || '';
    el.method.value = '';
    offerMethods();
  } catch (err) {
    showError(`Could not load the list of methods (${err.message}). Is the server running?`);
  }
  updateButtons();
}

// The task a fill does now: the mode's (guided inpainting while a guide photo is loaded).
const taskNow = () => MODES[page.mode].task(page);

// The method the server uses for a task when none is named, if it is ready here.
function serverDefault(task) {
  for (const m of page.methods.values()) {
    if (!m.ready) continue;
    if (task === 'guided' ? m.default_guided : (m.default_for || (m.default ? ['inpaint'] : [])).includes(task)) {
      return m.name;
    }
  }
  return '';
}

// Offer the methods that can run here and serve the task; keep the choice if it still fits,
// else go back to the one last picked for this task, else the server's default for it.
function offerMethods() {
  const task = taskNow();
  const offered = [];
  for (const opt of el.method.options) {
    const m = page.methods.get(opt.value);
    opt.disabled = !m || !m.ready || !(m.tasks || ['inpaint', 'outpaint']).includes(task);
    if (!opt.disabled) offered.push(opt.value);
  }
  const current = el.method.selectedOptions[0];
  if (current && !current.disabled) return;
  const next = [page.choice[task], serverDefault(task), offered[0]].find((n) => n && offered.includes(n)) || '';
  el.method.value = next;
  methodChanged();
}

function methodChanged() {
  const m = page.methods.get(el.method.value);
  el.summary.textContent = m ? m.summary + (m.paper ? ` (${m.paper})` : '') : '';
  optionsForm.show(m);
}

// ---------------------------------------------------------------- opening images

function baseName(name) {
  const stem = (name || 'image').replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60);
  return stem || 'image';
}

async function openImage(blob, name) {
  if (!blob) return;
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch (err) {
    showError('This browser cannot open that file as an image. Try PNG, JPEG or WebP.');
    return;
  }
  hideError();
  showWarning('');
  if (page.bitmap && page.bitmap.close) page.bitmap.close();
  page.file = blob;
  page.name = baseName(name);
  page.bitmap = bitmap;
  page.width = bitmap.width;
  page.height = bitmap.height;
  mask.reset(page.width, page.height);
  damage.forget();
  const longest = Math.max(page.width, page.height);
  el.size.max = String(Math.max(64, Math.round(longest / 3)));
  setSize(Math.max(4, Math.round(longest / 25)));
  for (const k of ['top', 'left', 'right', 'bottom']) $(`side-${k}`).value = '0';
  el.drop.hidden = true;
  showEditor();
  viewport.reset(page.width);
  status(`${page.width}×${page.height}. ${MODES[page.mode].hint}`);
  setBodyState('ready');
}

el.file.addEventListener('change', () => {
  const f = el.file.files && el.file.files[0];
  if (f) openImage(f, f.name);
  el.file.value = '';
});

// Drag and drop anywhere on the page (but on the guide photo's slot, which takes its own);
// paste from the clipboard too.
let dragDepth = 0;
document.addEventListener('dragenter', (e) => {
  e.preventDefault();
  dragDepth++;
  el.stage.classList.toggle('dragging', !guide.owns(e.target));
});
document.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; el.stage.classList.remove('dragging'); } });
document.addEventListener('dragover', (e) => { e.preventDefault(); });
document.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  el.stage.classList.remove('dragging');
  if (guide.owns(e.target)) return;
  const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
  if (f) openImage(f, f.name);
});
document.addEventListener('paste', (e) => {
  const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) => i.type.startsWith('image/'));
  if (item) openImage(item.getAsFile(), 'pasted');
});

// ---------------------------------------------------------------- drawing the stage

function checker(ctx, x, y, w, h) {
  if (w <= 0 || h <= 0) return;
  const cell = Math.max(8, Math.round(Math.max(page.width, page.height) / 48));
  ctx.save();
  ctx.fillStyle = '#3a3d44';
  ctx.fillRect(x, y, w, h);
  ctx.fillStyle = '#4a4e57';
  for (let yy = Math.floor(y / cell) * cell; yy < y + h; yy += cell) {
    for (let xx = Math.floor(x / cell) * cell + ((yy / cell) % 2 ? cell : 0); xx < x + w; xx += 2 * cell) {
      ctx.fillRect(xx, yy, cell, cell);
    }
  }
  ctx.restore();
}

// The image canvas shows what the mode fills: the image, or the enlarged canvas.
function drawStage() {
  if (!page.bitmap) return;
  const mode = MODES[page.mode];
  const { width, height, left, top } = mode.canvas(page);
  if (el.image.width !== width || el.image.height !== height) {
    el.image.width = width;
    el.image.height = height;
    viewport.reset(width);
  }
  imageCtx.clearRect(0, 0, width, height);
  if (mode.checker) checker(imageCtx, 0, 0, width, height);
  imageCtx.drawImage(page.bitmap, left, top);
  el.mask.hidden = !mode.showsMask;
  fit();
}

// Scale the canvases (or the compare view) to the space available, keeping the ratio.
function fit() {
  const box = el.stage.getBoundingClientRect();
  const small = window.innerWidth <= 760;
  const availW = Math.max(120, box.width - 24);
  const availH = Math.max(200, (small ? window.innerHeight * 0.62 : window.innerHeight - 160));
  const target = page.view === 'compare' && el.after.naturalWidth
    ? { w: el.after.naturalWidth, h: el.after.naturalHeight }
    : { w: el.image.width, h: el.image.height };
  if (!target.w || !target.h) return;
  const scale = Math.min(availW / target.w, availH / target.h, 4);
  const cssW = Math.max(1, Math.floor(target.w * scale));
  const cssH = Math.max(1, Math.floor(target.h * scale));
  const box2 = page.view === 'compare' ? el.compareWrap : el.wrap;
  box2.style.width = `${cssW}px`;
  box2.style.height = `${cssH}px`;
  if (page.view !== 'compare') viewport.apply();
}

new ResizeObserver(() => fit()).observe(el.stage);
window.addEventListener('resize', fit);

function showPanels() {
  for (const id of PANELS) $(id).hidden = page.view !== 'editor' || !MODES[page.mode].panels.includes(id);
  $('zoom').hidden = page.view !== 'editor' || !page.bitmap;
}

function showEditor() {
  page.view = 'editor';
  el.editor.hidden = false;
  el.compare.hidden = true;
  el.results.hidden = true;
  showPanels();
  drawStage();
  updateButtons();
}

// ---------------------------------------------------------------- painting the mask

function setTool(tool) {
  mask.tool = tool;
  el.brush.setAttribute('aria-pressed', String(tool === 'brush'));
  el.eraser.setAttribute('aria-pressed', String(tool === 'eraser'));
  el.wrap.classList.toggle('erasing', tool === 'eraser');
}

function setSize(n) {
  const max = Number(el.size.max);
  mask.size = Math.max(1, Math.min(max, Math.round(n)));
  el.size.value = String(mask.size);
  el.sizeOut.textContent = String(mask.size);
  updateCursorSize();
}

function updateCursorSize() {
  const r = el.mask.getBoundingClientRect();
  const d = page.width ? mask.size * (r.width / page.width) : mask.size;
  el.cursor.style.width = `${d}px`;
  el.cursor.style.height = `${d}px`;
}

function moveCursor(e) {
  if (e.pointerType === 'touch') { el.cursor.hidden = true; return; }
  const r = el.wrap.getBoundingClientRect();
  el.cursor.hidden = false;
  el.cursor.style.transform = `translate(${e.clientX - r.left}px, ${e.clientY - r.top}px) translate(-50%, -50%)`;
}

el.mask.addEventListener('pointerdown', (e) => {
  if (page.mode !== 'inpaint' || !page.bitmap || running() || e.button > 0) return;
  e.preventDefault();
  try { el.mask.setPointerCapture(e.pointerId); } catch (_) { /* synthetic events */ }
  mask.begin(e);
});
el.mask.addEventListener('pointermove', (e) => { moveCursor(e); mask.move(e); });
el.mask.addEventListener('pointerup', (e) => mask.end(e));
el.mask.addEventListener('pointercancel', (e) => mask.end(e));
el.mask.addEventListener('pointerleave', () => { el.cursor.hidden = true; });
el.mask.addEventListener('pointerenter', (e) => { updateCursorSize(); moveCursor(e); });

el.maskFile.addEventListener('change', async () => {
  const f = el.maskFile.files && el.maskFile.files[0];
  el.maskFile.value = '';
  if (!f || !page.bitmap || running()) return;
  try {
    const got = await mask.setFromImage(f);
    hideError();
    status(`Mask imported: ${got.holes.toLocaleString('en')} hole pixels.`);
    showWarning(got.resized ? `The mask was ${got.width}×${got.height}; it was stretched to ${page.width}×${page.height}.` : '');
  } catch (_) {
    showError('This browser cannot open that file as an image, so it cannot be a mask.');
  }
});

el.maskExport.addEventListener('click', async () => {
  if (!page.bitmap) return;
  const { png } = await mask.toPng();
  saveBlob(png, `${page.name}-mask.png`);
});

// ---------------------------------------------------------------- running a fill

function updateButtons() {
  const has = !!page.bitmap;
  const busy = running();
  el.run.disabled = !has || busy || !el.method.value;
  el.undo.disabled = !mask.undoStack.length || busy;
  el.redo.disabled = !mask.redoStack.length || busy;
  el.clear.disabled = !has || busy;
  el.maskExport.disabled = !has;
  el.cancel.hidden = !busy;
  el.spinner.hidden = !busy;
  el.progress.hidden = !busy;
  el.method.disabled = busy;
  damage.update();
  guide.update();
}

// What the status line says while a fill runs: the server's job state, its progress where
// the method reports one, and the time so far.
function showProgress(label, started, job) {
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (job && job.state === 'queued') {
    status(`${label}: waiting for a free worker… ${seconds} s`);
    el.progress.removeAttribute('value');
    return;
  }
  if (job && typeof job.progress === 'number') {
    el.progress.value = job.progress;
    status(`${label}… ${Math.round(job.progress * 100)} % · ${seconds} s`);
  } else {
    el.progress.removeAttribute('value');
    status(`${label}… ${seconds} s`);
  }
}

async function run() {
  if (!page.bitmap || running()) return;
  hideError();
  showWarning('');
  const method = el.method.value;
  if (!method) { showError('Choose a method first.'); return; }
  const chosen = optionsForm.values();
  if (chosen.error) { showError(chosen.error); return; }
  const request = await MODES[page.mode].request(page);
  if (request.error) { showError(request.error); return; }
  const form = new FormData();
  for (const [name, blob] of Object.entries(request.files)) form.append(name, blob, name);
  form.append('method', method);
  if (Object.keys(chosen.options).length) form.append('options', JSON.stringify(chosen.options));
  for (const [k, v] of Object.entries(request.fields)) form.append(k, v);

  await runJob({
    label: `Filling with ${method}`,
    url: request.url,
    form,
    what: 'fill',
    done: async (res, started) => {
      const blob = await res.blob();
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      await showResult(blob, request.before, method);
      const server = res.headers.get('X-Holefill-Seconds');
      status(`Done in ${seconds} s with ${method}${server ? ` (fill ${Number(server).toFixed(2)} s on the server)` : ''}.`);
      showWarning(res.headers.get('X-Holefill-Warning') || '');
      setBodyState('done');
    },
  });
}

// One job on the server (a fill, a search for damage) with the page's progress, spinner,
// Cancel button and Esc. done(response, started) takes the answer and sets the page's state;
// a failure there or on the server shows its one line in the error box.
async function runJob({ label, url, form, what, done }) {
  if (running()) return;
  hideError();
  showWarning('');
  const started = performance.now();
  let last = null;
  const job = startFill(url, form, (s) => { last = s; showProgress(label, started, s); });
  page.job = job;
  el.stage.setAttribute('aria-busy', 'true');
  setBodyState('running');
  el.progress.removeAttribute('value');
  showProgress(label, started, null);
  page.timer = setInterval(() => showProgress(label, started, last), 100);
  updateButtons();
  try {
    await done(await job.result, started);
  } catch (err) {
    if (job.cancelled || err.name === 'AbortError') {
      status(`Cancelled: the server stopped the ${what}.`);
      setBodyState('ready');
    } else {
      showError(err instanceof ServerError ? err.message : `Could not reach the server (${err.message}).`);
      status(`The ${what} did not work.`);
      setBodyState('error');
    }
  } finally {
    clearInterval(page.timer);
    page.job = null;
    el.stage.setAttribute('aria-busy', 'false');
    updateButtons();
  }
}

function cancel() {
  if (page.job) page.job.cancel();
}

function revokeAll() {
  for (const u of page.urls) URL.revokeObjectURL(u);
  page.urls = [];
}

function loaded(img) {
  return img.decode ? img.decode().catch(() => {}) : Promise.resolve();
}

async function showResult(blob, beforeBlob, method) {
  revokeAll();
  const afterUrl = URL.createObjectURL(blob);
  const beforeUrl = URL.createObjectURL(beforeBlob);
  page.urls.push(afterUrl, beforeUrl);
  page.result = { blob, url: afterUrl, method };
  el.after.dataset.ready = '0';
  el.after.src = afterUrl;
  el.before.src = beforeUrl;
  await Promise.all([loaded(el.after), loaded(el.before)]);
  el.after.dataset.ready = '1';
  el.download.href = afterUrl;
  el.download.download = `${page.name}-${method}.png`;
  page.view = 'compare';
  el.editor.hidden = true;
  el.compare.hidden = false;
  el.results.hidden = false;
  showPanels();
  setSplit(50);
  fit();
}

function setSplit(pct) {
  el.slider.value = String(pct);
  el.after.style.clipPath = `inset(0 0 0 ${pct}%)`;
  el.divider.style.left = `${pct}%`;
}

// ---------------------------------------------------------------- modes

function setMode(mode) {
  if (running()) return;
  page.mode = mode;
  for (const b of document.querySelectorAll('[data-mode]')) {
    b.setAttribute('aria-selected', String(b.dataset.mode === mode));
  }
  el.run.firstChild.textContent = MODES[mode].runLabel;
  if (page.methods.size) offerMethods();
  if (page.bitmap) {
    showEditor();
    hideError();
    showWarning('');
    status(MODES[mode].hint);
    setBodyState('ready');
  } else {
    showPanels();
    updateButtons();
  }
}

// ---------------------------------------------------------------- wiring

el.method.addEventListener('change', () => {
  const task = taskNow();
  page.choice[task] = el.method.value;
  if (task !== 'guided') localStorage.setItem('holefill-method', el.method.value);
  methodChanged();
  updateButtons();
});
$('options-reset').addEventListener('click', () => optionsForm.reset());
for (const b of document.querySelectorAll('[data-mode]')) {
  b.addEventListener('click', () => setMode(b.dataset.mode));
}
el.brush.addEventListener('click', () => setTool('brush'));
el.eraser.addEventListener('click', () => setTool('eraser'));
el.size.addEventListener('input', () => setSize(Number(el.size.value)));
el.undo.addEventListener('click', () => { if (!running()) mask.undo(); });
el.redo.addEventListener('click', () => { if (!running()) mask.redo(); });
el.clear.addEventListener('click', () => { if (page.bitmap && !running()) mask.clear(); });
el.zoomIn.addEventListener('click', () => viewport.zoomAt(1.25));
el.zoomOut.addEventListener('click', () => viewport.zoomAt(0.8));
el.zoomFit.addEventListener('click', () => viewport.reset());
for (const k of ['top', 'left', 'right', 'bottom']) {
  $(`side-${k}`).addEventListener('input', () => { drawStage(); updateButtons(); });
}
function setSides(s) {
  for (const k of Object.keys(s)) $(`side-${k}`).value = String(s[k]);
  drawStage();
  updateButtons();
}
$('sides-wide').addEventListener('click', () => {
  const q = Math.round(page.width / 4);
  setSides({ top: 0, bottom: 0, left: q, right: q });
});
$('sides-all').addEventListener('click', () => {
  const x = Math.round(page.width / 8);
  const y = Math.round(page.height / 8);
  setSides({ top: y, bottom: y, left: x, right: x });
});
$('sides-reset').addEventListener('click', () => setSides({ top: 0, left: 0, right: 0, bottom: 0 }));
el.run.addEventListener('click', run);
el.cancel.addEventListener('click', cancel);
el.slider.addEventListener('input', () => setSplit(Number(el.slider.value)));
$('show-before').addEventListener('click', () => setSplit(100));
$('show-split').addEventListener('click', () => setSplit(50));
$('show-after').addEventListener('click', () => setSplit(0));
el.back.addEventListener('click', () => { showEditor(); setBodyState('ready'); });
el.keep.addEventListener('click', async () => {
  if (!page.result) return;
  const name = `${page.name}-${page.result.method}`;
  setMode('inpaint');
  await openImage(page.result.blob, name);
});

document.addEventListener('keydown', (e) => {
  const t = e.target;
  const mod = e.ctrlKey || e.metaKey;
  if (e.key === 'Escape') { cancel(); return; }
  if (e.key === 'Enter' && !mod && !e.altKey) {
    if (t instanceof HTMLElement && ['BUTTON', 'A', 'SELECT', 'SUMMARY'].includes(t.tagName)) return;
    e.preventDefault();
    run();
    return;
  }
  if (isTyping(t)) return;
  const key = e.key.toLowerCase();
  if (mod && key === 'z') { e.preventDefault(); if (running()) return; if (e.shiftKey) mask.redo(); else mask.undo(); return; }
  if (mod && key === 'y') { e.preventDefault(); if (!running()) mask.redo(); return; }
  if (mod || e.altKey) return;
  if (e.key === ' ' && page.view === 'editor' && page.bitmap) {
    e.preventDefault();
    viewport.spaceHeld = true;
    el.wrap.classList.add('can-pan');
    return;
  }
  if (page.view === 'editor' && page.bitmap && !(t instanceof HTMLInputElement) && viewport.key(e)) {
    e.preventDefault();
    return;
  }
  if (key === 'b') setTool('brush');
  else if (key === 'e') setTool('eraser');
  else if (key === 'f') { e.preventDefault(); damage.find(); }
  else if (e.key === '[') setSize(mask.size / 1.25 - 0.5);
  else if (e.key === ']') setSize(mask.size * 1.25 + 0.5);
});
document.addEventListener('keyup', (e) => {
  if (e.key === ' ') { viewport.spaceHeld = false; el.wrap.classList.remove('can-pan'); }
});

setTool('brush');
setMode('inpaint');
loadMethods();

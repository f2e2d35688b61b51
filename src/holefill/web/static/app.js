// holefill's page: open an image, paint the hole, pick a method, fill, compare, download.
// Plain JavaScript, no build step, nothing loaded from other origins.
(() => {
  'use strict';

  const MASK_RGB = 'rgb(255, 0, 160)';
  const UNDO_BYTES = 192 * 1024 * 1024; // memory the undo history may hold
  const $ = (id) => document.getElementById(id);

  const el = {
    file: $('file'), drop: $('drop'), stage: $('stage'), editor: $('editor'), wrap: $('wrap'),
    image: $('image-canvas'), mask: $('mask-canvas'), cursor: $('cursor'),
    compare: $('compare'), compareWrap: $('compare-wrap'), before: $('before'), after: $('after'),
    divider: $('divider'), slider: $('compare-slider'),
    method: $('method'), summary: $('method-summary'),
    brush: $('tool-brush'), eraser: $('tool-eraser'), size: $('size'), sizeOut: $('size-out'),
    undo: $('undo'), redo: $('redo'), clear: $('clear'),
    tools: $('tools'), sides: $('sides'),
    side: { top: $('side-top'), left: $('side-left'), right: $('side-right'), bottom: $('side-bottom') },
    run: $('run'), cancel: $('cancel'), spinner: $('spinner'), statusText: $('status-text'),
    warning: $('warning'), error: $('error'),
    results: $('result-actions'), download: $('download'), back: $('back'), keep: $('keep'),
  };
  const imageCtx = el.image.getContext('2d');
  const maskCtx = el.mask.getContext('2d', { willReadFrequently: true });

  const state = {
    file: null,          // the Blob sent to the server: the user's file as it is
    name: 'image',       // the file's base name, for the download's name only
    bitmap: null,
    width: 0,
    height: 0,
    mode: 'inpaint',
    tool: 'brush',
    size: 24,
    undo: [],
    redo: [],
    stroke: null,        // {id, last} while a pointer paints
    running: false,
    controller: null,
    timer: 0,
    urls: [],            // object URLs to revoke when a new result comes
    result: null,        // {blob, url, method}
    view: 'editor',      // 'editor' or 'compare'
  };

  // ---------------------------------------------------------------- status and errors

  function setBodyState(s) { document.body.dataset.state = s; }
  function status(text) { el.statusText.textContent = text; }
  function showError(text) { el.error.textContent = text; el.error.hidden = false; }
  function hideError() { el.error.hidden = true; el.error.textContent = ''; }
  function showWarning(text) { el.warning.textContent = text; el.warning.hidden = !text; }

  // ---------------------------------------------------------------- methods

  async function loadMethods() {
    try {
      const res = await fetch('/api/methods');
      if (!res.ok) throw new Error(`${res.status}`);
      const methods = await res.json();
      el.method.textContent = '';
      const saved = localStorage.getItem('holefill-method');
      let chosen = null;
      for (const m of methods) {
        const opt = document.createElement('option');
        opt.value = m.name;
        opt.textContent = m.ready ? m.name : `${m.name} (needs weights)`;
        opt.disabled = !m.ready;
        opt.title = m.summary;
        opt.dataset.summary = m.summary + (m.paper ? ` (${m.paper})` : '');
        el.method.append(opt);
        if (m.ready && (m.name === saved || (!chosen && m.default))) chosen = m.name;
      }
      if (!chosen) chosen = (methods.find((m) => m.ready) || {}).name || '';
      el.method.value = chosen;
      showSummary();
    } catch (err) {
      showError(`Could not load the list of methods (${err.message}). Is the server running?`);
    }
    updateButtons();
  }

  function showSummary() {
    const opt = el.method.selectedOptions[0];
    el.summary.textContent = opt && opt.dataset.summary ? opt.dataset.summary : '';
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
    if (state.bitmap && state.bitmap.close) state.bitmap.close();
    state.file = blob;
    state.name = baseName(name);
    state.bitmap = bitmap;
    state.width = bitmap.width;
    state.height = bitmap.height;
    state.undo = [];
    state.redo = [];
    el.mask.width = state.width;
    el.mask.height = state.height;
    maskCtx.clearRect(0, 0, state.width, state.height);
    const longest = Math.max(state.width, state.height);
    el.size.max = String(Math.max(64, Math.round(longest / 3)));
    setSize(Math.max(4, Math.round(longest / 25)));
    setSides({ top: 0, left: 0, right: 0, bottom: 0 });
    el.drop.hidden = true;
    showEditor();
    status(`${state.width}×${state.height}. ${state.mode === 'inpaint' ? 'Paint over what should go, then press Fill.' : 'Choose how far to extend, then press Fill.'}`);
    setBodyState('ready');
  }

  el.file.addEventListener('change', () => {
    const f = el.file.files && el.file.files[0];
    if (f) openImage(f, f.name);
    el.file.value = '';
  });

  // Drag and drop anywhere on the page; paste from the clipboard too.
  let dragDepth = 0;
  document.addEventListener('dragenter', (e) => { e.preventDefault(); dragDepth++; el.stage.classList.add('dragging'); });
  document.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; el.stage.classList.remove('dragging'); } });
  document.addEventListener('dragover', (e) => { e.preventDefault(); });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    dragDepth = 0;
    el.stage.classList.remove('dragging');
    const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (f) openImage(f, f.name);
  });
  document.addEventListener('paste', (e) => {
    const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) => i.type.startsWith('image/'));
    if (item) openImage(item.getAsFile(), 'pasted');
  });

  // ---------------------------------------------------------------- drawing the stage

  function sides() {
    const out = {};
    for (const k of ['top', 'left', 'right', 'bottom']) {
      const v = Math.floor(Number(el.side[k].value));
      out[k] = Number.isFinite(v) && v > 0 ? v : 0;
    }
    return out;
  }

  function setSides(s) {
    for (const k of Object.keys(s)) el.side[k].value = String(s[k]);
    if (state.mode === 'outpaint') drawStage();
    updateButtons();
  }

  function checker(ctx, x, y, w, h) {
    if (w <= 0 || h <= 0) return;
    const cell = Math.max(8, Math.round(Math.max(state.width, state.height) / 48));
    ctx.save();
    ctx.beginPath();
    ctx.rect(x, y, w, h);
    ctx.clip();
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

  // The image canvas shows the image (inpaint) or the enlarged canvas (outpaint).
  function drawStage() {
    if (!state.bitmap) return;
    const s = state.mode === 'outpaint' ? sides() : { top: 0, left: 0, right: 0, bottom: 0 };
    const w = state.width + s.left + s.right;
    const h = state.height + s.top + s.bottom;
    if (el.image.width !== w || el.image.height !== h) {
      el.image.width = w;
      el.image.height = h;
    }
    imageCtx.clearRect(0, 0, w, h);
    if (state.mode === 'outpaint') {
      checker(imageCtx, 0, 0, w, h);
    }
    imageCtx.drawImage(state.bitmap, s.left, s.top);
    el.mask.hidden = state.mode !== 'inpaint';
    fit();
  }

  // Scale the canvases (or the compare view) to the space available, keeping the ratio.
  function fit() {
    const box = el.stage.getBoundingClientRect();
    const small = window.innerWidth <= 760;
    const availW = Math.max(120, box.width - 24);
    const availH = Math.max(200, (small ? window.innerHeight * 0.62 : window.innerHeight - 120));
    const target = state.view === 'compare' && el.after.naturalWidth
      ? { w: el.after.naturalWidth, h: el.after.naturalHeight }
      : { w: el.image.width, h: el.image.height };
    if (!target.w || !target.h) return;
    const scale = Math.min(availW / target.w, availH / target.h, 4);
    const cssW = Math.max(1, Math.floor(target.w * scale));
    const cssH = Math.max(1, Math.floor(target.h * scale));
    if (state.view === 'compare') {
      el.compareWrap.style.width = `${cssW}px`;
      el.compareWrap.style.height = `${cssH}px`;
    } else {
      el.wrap.style.width = `${cssW}px`;
      el.wrap.style.height = `${cssH}px`;
    }
    el.wrap.classList.toggle('pixelated', scale >= 2);
  }

  new ResizeObserver(() => fit()).observe(el.stage);
  window.addEventListener('resize', fit);

  function showEditor() {
    state.view = 'editor';
    el.editor.hidden = false;
    el.compare.hidden = true;
    el.results.hidden = true;
    el.tools.hidden = state.mode !== 'inpaint';
    el.sides.hidden = state.mode !== 'outpaint';
    drawStage();
    updateButtons();
  }

  // ---------------------------------------------------------------- painting the mask

  function setTool(tool) {
    state.tool = tool;
    el.brush.setAttribute('aria-pressed', String(tool === 'brush'));
    el.eraser.setAttribute('aria-pressed', String(tool === 'eraser'));
    el.wrap.classList.toggle('erasing', tool === 'eraser');
  }

  function setSize(n) {
    const max = Number(el.size.max);
    state.size = Math.max(1, Math.min(max, Math.round(n)));
    el.size.value = String(state.size);
    el.sizeOut.textContent = String(state.size);
    updateCursorSize();
  }

  function updateCursorSize() {
    const r = el.mask.getBoundingClientRect();
    const d = state.width ? state.size * (r.width / state.width) : state.size;
    el.cursor.style.width = `${d}px`;
    el.cursor.style.height = `${d}px`;
  }

  function toImage(e) {
    const r = el.mask.getBoundingClientRect();
    return {
      x: ((e.clientX - r.left) * el.mask.width) / r.width,
      y: ((e.clientY - r.top) * el.mask.height) / r.height,
    };
  }

  function paint(a, b) {
    maskCtx.save();
    maskCtx.globalCompositeOperation = state.tool === 'eraser' ? 'destination-out' : 'source-over';
    maskCtx.strokeStyle = MASK_RGB;
    maskCtx.fillStyle = MASK_RGB;
    maskCtx.lineWidth = state.size;
    maskCtx.lineCap = 'round';
    maskCtx.lineJoin = 'round';
    maskCtx.beginPath();
    if (a.x === b.x && a.y === b.y) {
      maskCtx.arc(a.x, a.y, state.size / 2, 0, Math.PI * 2);
      maskCtx.fill();
    } else {
      maskCtx.moveTo(a.x, a.y);
      maskCtx.lineTo(b.x, b.y);
      maskCtx.stroke();
    }
    maskCtx.restore();
  }

  function snapshot() {
    const limit = Math.max(3, Math.floor(UNDO_BYTES / Math.max(1, state.width * state.height * 4)));
    state.undo.push(maskCtx.getImageData(0, 0, el.mask.width, el.mask.height));
    while (state.undo.length > limit) state.undo.shift();
    state.redo = [];
  }

  function undo() {
    if (!state.undo.length || state.running) return;
    state.redo.push(maskCtx.getImageData(0, 0, el.mask.width, el.mask.height));
    maskCtx.putImageData(state.undo.pop(), 0, 0);
    updateButtons();
  }

  function redo() {
    if (!state.redo.length || state.running) return;
    state.undo.push(maskCtx.getImageData(0, 0, el.mask.width, el.mask.height));
    maskCtx.putImageData(state.redo.pop(), 0, 0);
    updateButtons();
  }

  function clearMask() {
    if (!state.bitmap || state.running) return;
    snapshot();
    maskCtx.clearRect(0, 0, el.mask.width, el.mask.height);
    updateButtons();
  }

  function moveCursor(e) {
    if (e.pointerType === 'touch') { el.cursor.hidden = true; return; }
    const r = el.wrap.getBoundingClientRect();
    el.cursor.hidden = false;
    el.cursor.style.transform = `translate(${e.clientX - r.left}px, ${e.clientY - r.top}px) translate(-50%, -50%)`;
  }

  el.mask.addEventListener('pointerdown', (e) => {
    if (state.mode !== 'inpaint' || !state.bitmap || state.running || e.button > 0) return;
    e.preventDefault();
    el.mask.setPointerCapture(e.pointerId);
    snapshot();
    const p = toImage(e);
    state.stroke = { id: e.pointerId, last: p };
    paint(p, p);
    updateButtons();
  });
  el.mask.addEventListener('pointermove', (e) => {
    moveCursor(e);
    if (!state.stroke || state.stroke.id !== e.pointerId) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of (events.length ? events : [e])) {
      const p = toImage(ev);
      paint(state.stroke.last, p);
      state.stroke.last = p;
    }
  });
  const endStroke = (e) => {
    if (state.stroke && state.stroke.id === e.pointerId) state.stroke = null;
  };
  el.mask.addEventListener('pointerup', endStroke);
  el.mask.addEventListener('pointercancel', endStroke);
  el.mask.addEventListener('pointerleave', () => { el.cursor.hidden = true; });
  el.mask.addEventListener('pointerenter', (e) => { updateCursorSize(); moveCursor(e); });

  // The mask as a black-and-white PNG (white = hole), and whether it has any hole.
  async function maskPng() {
    const w = el.mask.width;
    const h = el.mask.height;
    const src = maskCtx.getImageData(0, 0, w, h).data;
    const out = new ImageData(w, h);
    const dst = out.data;
    let any = false;
    for (let i = 0; i < w * h; i++) {
      const v = src[i * 4 + 3] >= 128 ? 255 : 0;
      if (v) any = true;
      dst[i * 4] = v;
      dst[i * 4 + 1] = v;
      dst[i * 4 + 2] = v;
      dst[i * 4 + 3] = 255;
    }
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    c.getContext('2d').putImageData(out, 0, 0);
    const blob = await new Promise((resolve) => c.toBlob(resolve, 'image/png'));
    return { blob, any };
  }

  function canvasPng(canvas) {
    return new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  }

  // ---------------------------------------------------------------- running a fill

  function updateButtons() {
    const has = !!state.bitmap;
    el.run.disabled = !has || state.running || !el.method.value;
    el.undo.disabled = !state.undo.length || state.running;
    el.redo.disabled = !state.redo.length || state.running;
    el.clear.disabled = !has || state.running;
    el.cancel.hidden = !state.running;
    el.spinner.hidden = !state.running;
    el.method.disabled = state.running;
  }

  function setRunning(on, label) {
    state.running = on;
    clearInterval(state.timer);
    el.stage.setAttribute('aria-busy', String(on));
    if (on) {
      const start = performance.now();
      const tick = () => status(`${label}… ${((performance.now() - start) / 1000).toFixed(1)} s`);
      tick();
      state.timer = setInterval(tick, 100);
      setBodyState('running');
    }
    updateButtons();
  }

  async function run() {
    if (!state.bitmap || state.running) return;
    hideError();
    showWarning('');
    const method = el.method.value;
    if (!method) { showError('Choose a method first.'); return; }
    const form = new FormData();
    form.append('image', state.file, 'image');
    form.append('method', method);
    let url;
    let before;
    if (state.mode === 'inpaint') {
      const { blob, any } = await maskPng();
      if (!any) { showError('Paint over the part to fill first (B for the brush).'); return; }
      form.append('mask', blob, 'mask.png');
      if (window.holefillGuide) window.holefillGuide.addTo(form);  // guide.js: the second image slot
      url = '/api/inpaint';
      before = state.file;
    } else {
      const s = sides();
      if (!(s.top || s.left || s.right || s.bottom)) {
        showError('Set how many pixels to add on at least one side.');
        return;
      }
      for (const k of Object.keys(s)) form.append(k, String(s[k]));
      url = '/api/outpaint';
      before = await canvasPng(el.image);
    }
    const controller = new AbortController();
    state.controller = controller;
    const started = performance.now();
    setRunning(true, `Filling with ${method}`);
    try {
      const res = await fetch(url, { method: 'POST', body: form, signal: controller.signal });
      if (!res.ok) {
        let message = `The server answered ${res.status} ${res.statusText}.`;
        try {
          const body = await res.json();
          if (body && body.error) message = body.error;
        } catch (_) { /* not JSON */ }
        throw Object.assign(new Error(message), { shown: true });
      }
      const blob = await res.blob();
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      await showResult(blob, before, method);
      const server = res.headers.get('X-Holefill-Seconds');
      status(`Done in ${seconds} s with ${method}${server ? ` (fill ${Number(server).toFixed(2)} s on the server)` : ''}.`);
      showWarning(res.headers.get('X-Holefill-Warning') || '');
      setBodyState('done');
    } catch (err) {
      if (err.name === 'AbortError') {
        status('Cancelled.');
        setBodyState('ready');
      } else {
        showError(err.shown ? err.message : `Could not reach the server (${err.message}).`);
        status('The fill did not work.');
        setBodyState('error');
      }
    } finally {
      state.controller = null;
      setRunning(false);
    }
  }

  function cancel() {
    if (state.controller) state.controller.abort();
  }

  function revokeAll() {
    for (const u of state.urls) URL.revokeObjectURL(u);
    state.urls = [];
  }

  function loaded(img) {
    return img.decode ? img.decode().catch(() => {}) : Promise.resolve();
  }

  async function showResult(blob, beforeBlob, method) {
    revokeAll();
    const afterUrl = URL.createObjectURL(blob);
    const beforeUrl = URL.createObjectURL(beforeBlob);
    state.urls.push(afterUrl, beforeUrl);
    state.result = { blob, url: afterUrl, method };
    el.after.dataset.ready = '0';
    el.after.src = afterUrl;
    el.before.src = beforeUrl;
    await Promise.all([loaded(el.after), loaded(el.before)]);
    el.after.dataset.ready = '1';
    el.download.href = afterUrl;
    el.download.download = `${state.name}-${method}.png`;
    state.view = 'compare';
    el.editor.hidden = true;
    el.compare.hidden = false;
    el.results.hidden = false;
    el.tools.hidden = true;
    el.sides.hidden = true;
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
    if (state.running) return;
    state.mode = mode;
    for (const b of document.querySelectorAll('[data-mode]')) {
      b.setAttribute('aria-selected', String(b.dataset.mode === mode));
    }
    el.tools.hidden = mode !== 'inpaint';
    el.sides.hidden = mode !== 'outpaint';
    el.run.firstChild.textContent = mode === 'inpaint' ? 'Fill ' : 'Extend ';
    if (state.bitmap) {
      showEditor();
      hideError();
      showWarning('');
      status(mode === 'inpaint' ? 'Paint over what should go, then press Fill.'
        : 'Choose how many pixels to add on each side, then press Extend.');
      setBodyState('ready');
    }
  }

  // ---------------------------------------------------------------- wiring

  el.method.addEventListener('change', () => {
    localStorage.setItem('holefill-method', el.method.value);
    showSummary();
    updateButtons();
  });
  for (const b of document.querySelectorAll('[data-mode]')) {
    b.addEventListener('click', () => setMode(b.dataset.mode));
  }
  el.brush.addEventListener('click', () => setTool('brush'));
  el.eraser.addEventListener('click', () => setTool('eraser'));
  el.size.addEventListener('input', () => setSize(Number(el.size.value)));
  el.undo.addEventListener('click', undo);
  el.redo.addEventListener('click', redo);
  el.clear.addEventListener('click', clearMask);
  for (const input of Object.values(el.side)) input.addEventListener('input', () => { drawStage(); updateButtons(); });
  $('sides-wide').addEventListener('click', () => {
    const q = Math.round(state.width / 4);
    setSides({ top: 0, bottom: 0, left: q, right: q });
  });
  $('sides-all').addEventListener('click', () => {
    const x = Math.round(state.width / 8);
    const y = Math.round(state.height / 8);
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
    if (!state.result) return;
    const name = `${state.name}-${state.result.method}`;
    setMode('inpaint');
    await openImage(state.result.blob, name);
  });

  document.addEventListener('keydown', (e) => {
    const t = e.target;
    const typing = t instanceof HTMLElement && (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT'
      || (t.tagName === 'INPUT' && !['range', 'checkbox', 'radio', 'button', 'file'].includes(t.type)));
    const mod = e.ctrlKey || e.metaKey;
    if (e.key === 'Escape') { cancel(); return; }
    if (e.key === 'Enter' && !mod && !e.altKey) {
      if (t instanceof HTMLElement && (t.tagName === 'BUTTON' || t.tagName === 'A' || t.tagName === 'SELECT' || t.tagName === 'SUMMARY')) return;
      e.preventDefault();
      run();
      return;
    }
    if (typing) return;
    const key = e.key.toLowerCase();
    if (mod && key === 'z') { e.preventDefault(); if (e.shiftKey) redo(); else undo(); return; }
    if (mod && key === 'y') { e.preventDefault(); redo(); return; }
    if (mod || e.altKey) return;
    if (key === 'b') setTool('brush');
    else if (key === 'e') setTool('eraser');
    else if (e.key === '[') setSize(state.size / 1.25 - 0.5);
    else if (e.key === ']') setSize(state.size * 1.25 + 0.5);
  });

  setTool('brush');
  setMode('inpaint');
  loadMethods();
})();

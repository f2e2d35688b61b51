// "Find damage": the blind model marks scratches, text and stains on the mask; the user sets the
// sensitivity, corrects the mask with the brush and eraser, and fills with any method.
// Plain JavaScript on top of app.js (window.holefillPage), nothing loaded from other origins.
(() => {
  'use strict';

  const page = window.holefillPage;
  if (!page) return;
  const { el, state, maskCtx } = page;
  const $ = (id) => document.getElementById(id);
  const ui = {
    find: $('find-damage'), row: $('damage-row'), slider: $('damage-sensitivity'), out: $('damage-out'),
    hint: $('damage-hint'),
  };
  const MASK = [255, 0, 160]; // app.js's MASK_RGB

  let blindMethods = [];     // ready methods that find damage, the server's default first
  // What the last search found: the damage probability (0-255 per pixel) of the image it ran on,
  // the mask as it was before (kept under what is found), and whether the slider has moved since.
  let found = null;

  async function loadBlindMethods() {
    try {
      const res = await fetch('/api/methods');
      if (!res.ok) return;
      const rows = await res.json();
      blindMethods = rows.filter((m) => m.ready && (m.tasks || []).includes('blind'))
        .sort((a, b) => Number(b.default_blind) - Number(a.default_blind)).map((m) => m.name);
    } catch (_) { /* the page shows its own error for /api/methods */ }
    refresh();
  }

  // The method that looks for damage: the one picked, if it can; else the server's default.
  function finder() {
    return blindMethods.includes(el.method.value) ? el.method.value : blindMethods[0] || null;
  }

  function refresh() {
    const usable = !!state.bitmap && state.mode === 'inpaint' && !state.running;
    ui.find.disabled = !usable || !finder();
    ui.find.title = finder()
      ? `Let ${finder()} find scratches, text and stains; then correct its mask with the brush and eraser (F)`
      : 'No method on this server can find damage (it needs the weights of a blind model such as vcnet_lite)';
    if (found && found.bitmap !== state.bitmap) forget();
    const shown = !!found && state.mode === 'inpaint' && state.view === 'editor';
    ui.row.hidden = !shown;
    ui.hint.hidden = !shown;
    ui.slider.disabled = state.running;
  }

  function forget() {
    found = null;
  }

  function sensitivity() {
    return Number(ui.slider.value) / 100;
  }

  // Paint the damage above the threshold over the mask as it was before the search.
  function apply() {
    if (!found) return 0;
    const cut = Math.round((1 - sensitivity()) * 255);
    const img = new ImageData(new Uint8ClampedArray(found.base.data), found.width, found.height);
    const d = img.data;
    let n = 0;
    for (let i = 0, p = 0; p < found.prob.length; p++, i += 4) {
      if (found.prob[p] > cut) {
        d[i] = MASK[0]; d[i + 1] = MASK[1]; d[i + 2] = MASK[2]; d[i + 3] = 255;
        n++;
      }
    }
    maskCtx.putImageData(img, 0, 0);
    return n;
  }

  function report(n) {
    const pct = (100 * n) / Math.max(1, found.width * found.height);
    page.status(n
      ? `Found ${n.toLocaleString()} damaged pixels (${pct.toFixed(1)} %) with ${found.method}. Correct the mask with the brush (B) and eraser (E), then press Fill.`
      : `No damage found with ${found.method} at this sensitivity. Raise it, or paint the damage yourself.`);
  }

  async function probabilityOf(blob) {
    const bitmap = await createImageBitmap(blob);
    const c = document.createElement('canvas');
    c.width = bitmap.width;
    c.height = bitmap.height;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    if (bitmap.close) bitmap.close();
    const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
    const prob = new Uint8ClampedArray(c.width * c.height);
    for (let p = 0; p < prob.length; p++) prob[p] = rgba[p * 4];
    return { prob, width: c.width, height: c.height };
  }

  async function findDamage() {
    const method = finder();
    if (!state.bitmap || state.running || state.mode !== 'inpaint' || !method) return;
    page.hideError();
    page.showWarning('');
    const form = new FormData();
    form.append('image', state.file, 'image');
    form.append('method', method);
    form.append('probability', 'true');
    const controller = new AbortController();
    state.controller = controller;
    page.setRunning(true, `Finding damage with ${method}`);
    refresh();
    try {
      const res = await fetch('/api/find-damage', { method: 'POST', body: form, signal: controller.signal });
      if (!res.ok) {
        let message = `The server answered ${res.status} ${res.statusText}.`;
        try {
          const body = await res.json();
          if (body && body.error) message = body.error;
        } catch (_) { /* not JSON */ }
        throw Object.assign(new Error(message), { shown: true });
      }
      const map = await probabilityOf(await res.blob());
      if (map.width !== el.mask.width || map.height !== el.mask.height) {
        throw Object.assign(new Error('The damage map does not match the image; open it again.'), { shown: true });
      }
      page.snapshot(); // one undo step takes the whole search back
      found = {
        ...map, method, bitmap: state.bitmap,
        base: maskCtx.getImageData(0, 0, el.mask.width, el.mask.height),
      };
      const threshold = Number(res.headers.get('X-Holefill-Threshold'));
      const pct = Number.isFinite(threshold) ? Math.round((1 - threshold) * 100) : 50;
      ui.slider.value = String(Math.min(99, Math.max(1, pct)));
      ui.out.textContent = ui.slider.value;
      report(apply());
      page.setBodyState('ready');
    } catch (err) {
      if (err.name === 'AbortError') {
        page.status('Cancelled.');
        page.setBodyState('ready');
      } else {
        page.showError(err.shown ? err.message : `Could not reach the server (${err.message}).`);
        page.status('The search for damage did not work.');
        page.setBodyState('error');
      }
    } finally {
      state.controller = null;
      page.setRunning(false);
      page.updateButtons();
      refresh();
    }
  }

  // The slider re-reads the damage map; one undo step per drag.
  let dragging = false;
  ui.slider.addEventListener('input', () => {
    if (!found || state.running) return;
    if (!dragging) {
      page.snapshot();
      dragging = true;
    }
    ui.out.textContent = ui.slider.value;
    report(apply());
    page.updateButtons();
  });
  ui.slider.addEventListener('change', () => { dragging = false; });

  ui.find.addEventListener('click', findDamage);
  el.method.addEventListener('change', refresh);
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || e.key.toLowerCase() !== 'f') return;
    if (t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)
      && !(t.tagName === 'INPUT' && ['range', 'checkbox', 'radio', 'button', 'file'].includes(t.type)))) return;
    e.preventDefault();
    findDamage();
  });
  // Follow the page's state: a new image, another mode, a fill running or done.
  new MutationObserver(refresh).observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
  new MutationObserver(refresh).observe(el.run, { attributes: true, attributeFilter: ['disabled'] });
  for (const id of ['mode-inpaint', 'mode-outpaint', 'back']) $(id).addEventListener('click', () => setTimeout(refresh));
  loadBlindMethods();
})();

// Find damage (blind inpainting): a blind model on the server (VCNet) marks what looks like
// damage (scratches, text, stains) on the mask, over what the user had painted. The damage
// probability stays in the page, so the sensitivity slider re-thresholds it here, without a
// new request. Then the user corrects the mask with the brush and eraser and fills it with
// any method. The search runs as a server job (api.js): progress, Cancel and Esc as a fill's.
//
// Each search and each move of the slider is one undo step. The mask's tag remembers which
// map and threshold its found pixels come from, so undo and redo bring the slider back with
// the mask, and a move of the slider changes only the pixels whose damage crosses the
// threshold: corrections made with the brush and eraser elsewhere stay.

import { ServerError } from './api.js';
import { setBodyState, status } from './dom.js';
import { HOLE_RGBA } from './mask.js';

const NO_FINDER = 'No method on this server can find damage: it needs the weights of a blind model'
  + ' (vcnet; see README, "Blind inpainting")';

// 8-bit probability above which a pixel is damage, for a sensitivity in percent.
const cutOf = (sensitivity) => 255 * (1 - sensitivity / 100);
const sensitivityOf = (cut) => Math.min(99, Math.max(1, Math.round(100 * (1 - cut / 255))));

// The grey PNG the server answers (255 = surely damage) as one byte per pixel.
async function probabilityOf(blob) {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const c = document.createElement('canvas');
  c.width = bitmap.width;
  c.height = bitmap.height;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  if (bitmap.close) bitmap.close();
  const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
  const prob = new Uint8Array(c.width * c.height);
  for (let p = 0; p < prob.length; p++) prob[p] = rgba[p * 4];
  return { prob, width: c.width, height: c.height };
}

export class DamageFinder {
  // ui: {button, row, slider, out}; page: {mask (MaskLayer), runJob (app.js's server job
  // with progress and Cancel), image() (the Blob sent to the server), picked() (the method
  // chosen), usable() (whether a search may start now: an image, the inpaint editor, nothing
  // running), busy() (whether a job runs)}.
  constructor(ui, page) {
    this.ui = ui;
    this.page = page;
    this.mask = page.mask;
    this.blind = [];   // ready methods that find damage, the server's blind default first
    this.found = null; // the last search: {prob, width, height, method}
    this.dragging = false;
    ui.button.addEventListener('click', () => this.find());
    ui.slider.addEventListener('input', () => this.slide());
    ui.slider.addEventListener('change', () => { this.dragging = false; });
  }

  // The method table's rows (/api/methods): which ready methods can find damage.
  setMethods(rows) {
    this.blind = rows.filter((m) => m.ready && (m.tasks || []).includes('blind'))
      .sort((a, b) => Number(!!b.default_blind) - Number(!!a.default_blind)).map((m) => m.name);
    this.update();
  }

  // The method that looks for damage: the one picked, if it can; else the server's default.
  finder() {
    const picked = this.page.picked();
    return this.blind.includes(picked) ? picked : this.blind[0] || null;
  }

  // A new image: the map belongs to the old one.
  forget() {
    this.found = null;
    this.dragging = false;
    this.update();
  }

  // Buttons and slider after any change of the page or the mask.
  update() {
    const { button, row, slider, out } = this.ui;
    const finder = this.finder();
    button.disabled = !finder || !this.page.usable();
    button.title = finder
      ? `Let ${finder} find scratches, text and stains; then correct its mask with the brush and eraser (F)`
      : NO_FINDER;
    row.hidden = !this.found;
    this.ui.hint.hidden = !this.found;
    slider.disabled = !this.found || this.page.busy();
    const tag = this.mask.tag;
    if (this.found && tag && tag.found === this.found && !this.dragging) {
      slider.value = String(sensitivityOf(tag.cut)); // undo and redo bring the slider back too
    }
    out.textContent = slider.value;
  }

  async find() {
    const method = this.finder();
    if (!method || !this.page.usable()) return;
    const form = new FormData();
    form.append('image', this.page.image(), 'image');
    form.append('method', method);
    form.append('probability', 'true');
    await this.page.runJob({
      label: `Finding damage with ${method}`,
      url: '/api/find-damage',
      form,
      what: 'search for damage',
      done: async (res) => {
        const map = await probabilityOf(await res.blob());
        if (map.width !== this.mask.width || map.height !== this.mask.height) {
          throw new ServerError(`The damage map is ${map.width}×${map.height}, the image ${this.mask.width}×`
            + `${this.mask.height}: open the image again.`);
        }
        this.found = { ...map, method };
        this.dragging = false;
        // The server's own threshold, exactly (its mask would be the same); the slider shows
        // it rounded to a percent.
        const header = res.headers.get('X-Holefill-Threshold');
        const threshold = header === null ? NaN : Number(header);
        this.apply(Number.isFinite(threshold) ? 255 * threshold : cutOf(50), true);
        setBodyState('ready');
      },
    });
  }

  slide() {
    if (!this.found || this.page.busy()) return;
    const first = !this.dragging; // one undo step per drag (or per key press on the slider)
    this.dragging = true;
    this.apply(cutOf(Number(this.ui.slider.value)), first);
  }

  // Mark the pixels whose damage is above `cut` (0-255) and unmark those that no longer
  // are (unless the user had painted them before the search).
  apply(cut, snapshot) {
    const f = this.found;
    const tag = this.mask.tag && this.mask.tag.found === f ? this.mask.tag : null;
    const image = this.mask.pixels();
    const d = image.data;
    // Without this map's pixels on the mask (a new search, or the search undone or cleared),
    // the mask as it is now is what the user painted.
    let base = tag && tag.base;
    if (!base) {
      base = new Uint8Array(f.prob.length);
      for (let p = 0; p < base.length; p++) base[p] = d[p * 4 + 3] >= 128 ? 1 : 0;
    }
    const from = tag ? tag.cut : 255;
    const lo = Math.min(from, cut);
    const hi = Math.max(from, cut);
    const marking = cut < from;
    const { prob } = f;
    let found = 0;
    for (let p = 0; p < prob.length; p++) {
      const v = prob[p];
      if (v > cut) found++;
      if (v <= lo || v > hi) continue; // on the same side of both thresholds: left as it is
      if (marking) d.set(HOLE_RGBA, p * 4);
      else if (!base[p]) d.fill(0, p * 4, p * 4 + 4);
    }
    this.mask.put(image, { tag: { found: f, cut, base }, snapshot });
    this.report(found);
  }

  report(n) {
    const { method, width, height } = this.found;
    const pct = (100 * n) / Math.max(1, width * height);
    status(n
      ? `Found ${n.toLocaleString('en')} damaged pixels (${pct.toFixed(1)} %) with ${method}.`
        + ' Correct the mask with the brush (B) and eraser (E), then press Fill.'
      : `No damage found with ${method} at this sensitivity. Raise it, or paint the damage yourself.`);
  }
}

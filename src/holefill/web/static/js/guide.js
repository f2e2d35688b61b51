// The guide photo (guided inpainting): a second image slot in the inpaint panel. While a guide
// is loaded the inpaint mode's task is "guided" (modes.js): the picker offers the methods whose
// tasks include "guided" (the server's default guided one first) and the fill sends the guide
// with the image and the mask; without one the picker offers the plain inpainting methods.
// Open it with the picker or by dropping a file on the slot; Remove unloads it.

import { hideError, showError } from './dom.js';

const NO_GUIDED = 'No guided method on this server is ready: it needs guided inpainting weights'
  + ' (guided_lite ships with holefill; see README, "Guided inpainting")';

// A file's name for the caption, short and harmless (textContent is used, never HTML).
const shortName = (name) => (name && name.length > 40 ? `${name.slice(0, 37)}…` : name || 'pasted image');

export class GuideSlot {
  // ui: {group, input, open (the label that opens the picker), clear, thumb, caption};
  // page: {changed() (the picker re-offers methods for the new task), usable() (whether the
  // slot may change now: the inpaint editor, nothing running)}.
  constructor(ui, page) {
    this.ui = ui;
    this.page = page;
    this.guided = [];  // ready guided methods, the server's default guided one first
    this.loaded = null; // {file, url, width, height}
    ui.input.addEventListener('change', () => {
      const f = ui.input.files && ui.input.files[0];
      ui.input.value = '';
      if (f) this.open(f);
    });
    ui.clear.addEventListener('click', () => this.remove());
    // Dropping a file on the slot loads a guide (the page's own drop handler, which opens the
    // image, leaves drops on the slot alone: see owns()).
    ui.group.addEventListener('dragover', (e) => {
      e.preventDefault();
      ui.group.classList.toggle('dragging', this.ready());
    });
    ui.group.addEventListener('dragleave', (e) => {
      if (!ui.group.contains(e.relatedTarget)) ui.group.classList.remove('dragging');
    });
    ui.group.addEventListener('drop', (e) => {
      e.preventDefault();
      ui.group.classList.remove('dragging');
      const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
      if (f && this.ready()) this.open(f);
    });
  }

  // The method table's rows (/api/methods): which ready methods take a guide.
  setMethods(rows) {
    this.guided = rows.filter((m) => m.ready && (m.tasks || []).includes('guided'))
      .sort((a, b) => Number(!!b.default_guided) - Number(!!a.default_guided)).map((m) => m.name);
    this.update();
  }

  // The guide photo to send (the user's file as it is), or null.
  get file() { return this.loaded ? this.loaded.file : null; }

  // Whether an event's target is inside the slot (its drops are the slot's).
  owns(node) { return node instanceof Node && this.ui.group.contains(node); }

  ready() { return this.guided.length > 0 && this.page.usable(); }

  async open(file) {
    if (!this.ready()) return;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch (_) {
      showError('This browser cannot open that file as an image, so it cannot be a guide photo. Try PNG, JPEG or WebP.');
      return;
    }
    const { width, height } = bitmap;
    if (bitmap.close) bitmap.close();
    hideError();
    this.forget();
    this.loaded = { file, url: URL.createObjectURL(file), width, height };
    const { thumb, caption } = this.ui;
    thumb.src = this.loaded.url;
    thumb.alt = `Guide photo: ${shortName(file.name)}`;
    caption.textContent = `${shortName(file.name)}, ${width}×${height}`;
    this.update();
    this.page.changed();
  }

  remove() {
    if (!this.loaded || !this.page.usable()) return;
    this.forget();
    this.update();
    this.page.changed();
  }

  forget() {
    if (this.loaded) URL.revokeObjectURL(this.loaded.url);
    this.loaded = null;
    this.ui.thumb.removeAttribute('src');
    this.ui.thumb.alt = '';
    this.ui.caption.textContent = '';
  }

  // The slot's buttons after any change of the page.
  update() {
    const { group, input, open, clear, thumb, caption } = this.ui;
    const usable = this.page.usable();
    const can = this.guided.length > 0;
    group.dataset.loaded = String(!!this.loaded);
    input.disabled = !can || !usable;
    open.setAttribute('aria-disabled', String(input.disabled));
    open.title = can ? 'Open a second photo of the scene to take the hole\'s content from (or drop one here)' : NO_GUIDED;
    clear.disabled = !this.loaded || !usable;
    thumb.hidden = !this.loaded;
    caption.hidden = !this.loaded;
  }
}

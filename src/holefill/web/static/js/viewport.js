// Zoom and pan of the editor: the wheel zooms about the pointer, two fingers pinch and pan,
// space + drag or the middle button pans, and the keys + - 0 and the arrows do the same
// from the keyboard. The canvases sit in `view`, transformed inside the clipping box `box`;
// everything that maps the pointer to image pixels uses getBoundingClientRect, which
// includes the transform, so painting stays exact at any zoom.

const MAX_PIXEL = 32; // the most screen pixels one image pixel may cover

export class Viewport {
  constructor(box, view, { onChange = () => {}, onGesture = () => {} } = {}) {
    this.box = box;
    this.view = view;
    this.onChange = onChange;   // called after every change (the page redraws its cursor)
    this.onGesture = onGesture; // called when a pinch or pan takes over the pointer
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.imageWidth = 1;        // image pixels across the box, to cap the zoom
    this.pointers = new Map();  // touch pointers on the box: id -> {x, y}
    this.pinch = null;          // {dist, mid} while two fingers are down
    this.drag = null;           // {id, x, y} while panning with the mouse
    this.spaceHeld = false;
    box.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    box.addEventListener('pointerdown', (e) => this.onDown(e), true);
    box.addEventListener('pointermove', (e) => this.onMove(e), true);
    for (const type of ['pointerup', 'pointercancel']) box.addEventListener(type, (e) => this.onUp(e), true);
    box.addEventListener('auxclick', (e) => { if (e.button === 1) e.preventDefault(); });
  }

  get maxScale() {
    const fit = this.box.clientWidth / this.imageWidth; // screen pixels per image pixel at scale 1
    return Math.max(4, MAX_PIXEL / Math.max(fit, 1e-6));
  }

  get zoomed() { return this.scale > 1.0001; }

  // Back to the whole image (a new image, or the 0 key).
  reset(imageWidth = this.imageWidth) {
    this.imageWidth = Math.max(1, imageWidth);
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.apply();
  }

  // Zoom by `factor` keeping the screen point (clientX, clientY) where it is.
  zoomAt(factor, clientX, clientY) {
    const r = this.box.getBoundingClientRect();
    const px = clientX === undefined ? r.width / 2 : clientX - r.left;
    const py = clientY === undefined ? r.height / 2 : clientY - r.top;
    const scale = Math.min(this.maxScale, Math.max(1, this.scale * factor));
    const k = scale / this.scale;
    this.x = px - (px - this.x) * k;
    this.y = py - (py - this.y) * k;
    this.scale = scale;
    this.apply();
  }

  panBy(dx, dy) {
    this.x += dx;
    this.y += dy;
    this.apply();
  }

  // Keep the image covering the box: no empty margin at any side once zoomed in.
  clamp() {
    const w = this.box.clientWidth;
    const h = this.box.clientHeight;
    this.x = Math.min(0, Math.max(w - w * this.scale, this.x));
    this.y = Math.min(0, Math.max(h - h * this.scale, this.y));
  }

  apply() {
    this.clamp();
    this.view.style.transform = this.zoomed ? `translate(${this.x}px, ${this.y}px) scale(${this.scale})` : '';
    this.box.dataset.zoom = this.scale.toFixed(3);
    this.box.classList.toggle('zoomed', this.zoomed);
    this.onChange(this);
  }

  // --- input ---

  onWheel(e) {
    e.preventDefault();
    const lines = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
    if (e.shiftKey && !e.ctrlKey) {
      this.panBy(-e.deltaY * lines, -e.deltaX * lines);
      return;
    }
    this.zoomAt(Math.exp(-e.deltaY * lines * 0.0015), e.clientX, e.clientY);
  }

  // Whether a pointer-down starts a pan rather than a brush stroke.
  wantsPan(e) {
    return e.button === 1 || (e.button === 0 && this.spaceHeld && e.pointerType !== 'touch');
  }

  onDown(e) {
    if (e.pointerType === 'touch') {
      this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (this.pointers.size === 2) {
        this.pinch = this.measure();
        this.onGesture();
        e.stopPropagation();
        e.preventDefault();
      } else if (this.pointers.size > 2) {
        e.stopPropagation();
      }
      return;
    }
    if (this.wantsPan(e)) {
      this.drag = { id: e.pointerId, x: e.clientX, y: e.clientY };
      try { this.box.setPointerCapture(e.pointerId); } catch (_) { /* synthetic events */ }
      this.box.classList.add('panning');
      this.onGesture();
      e.stopPropagation();
      e.preventDefault();
    }
  }

  onMove(e) {
    if (this.pointers.has(e.pointerId)) {
      this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (this.pinch && this.pointers.size >= 2) {
        const now = this.measure();
        this.panBy(now.mid.x - this.pinch.mid.x, now.mid.y - this.pinch.mid.y);
        if (this.pinch.dist > 0) this.zoomAt(now.dist / this.pinch.dist, now.mid.x, now.mid.y);
        this.pinch = now;
        e.stopPropagation();
      }
      return;
    }
    if (this.drag && this.drag.id === e.pointerId) {
      this.panBy(e.clientX - this.drag.x, e.clientY - this.drag.y);
      this.drag.x = e.clientX;
      this.drag.y = e.clientY;
      e.stopPropagation();
    }
  }

  onUp(e) {
    if (this.pointers.delete(e.pointerId)) {
      if (this.pinch) {
        e.stopPropagation();
        if (this.pointers.size < 2) this.pinch = null;
      }
      return;
    }
    if (this.drag && this.drag.id === e.pointerId) {
      this.drag = null;
      this.box.classList.remove('panning');
      e.stopPropagation();
    }
  }

  // Whether a pinch is under way (a second finger came down).
  get gesturing() { return !!this.pinch || !!this.drag; }

  measure() {
    const [a, b] = [...this.pointers.values()];
    return { dist: Math.hypot(a.x - b.x, a.y - b.y), mid: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 } };
  }

  // Keyboard: + / - zoom about the centre, 0 fits, arrows pan a tenth of the view.
  // Returns whether the key was used.
  key(e) {
    const step = this.box.clientWidth / 10;
    switch (e.key) {
      case '+': case '=': this.zoomAt(1.25); return true;
      case '-': case '_': this.zoomAt(0.8); return true;
      case '0': this.reset(); return true;
      case 'ArrowLeft': if (!this.zoomed) return false; this.panBy(step, 0); return true;
      case 'ArrowRight': if (!this.zoomed) return false; this.panBy(-step, 0); return true;
      case 'ArrowUp': if (!this.zoomed) return false; this.panBy(0, step); return true;
      case 'ArrowDown': if (!this.zoomed) return false; this.panBy(0, -step); return true;
      default: return false;
    }
  }
}

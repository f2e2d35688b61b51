// The mask: a canvas the size of the image whose painted (opaque) pixels are the hole.
// Painting with brush and eraser, undo and redo, and the mask as a file both ways: export
// as a black-and-white PNG (white = hole, what the server and the CLI read) and import
// from any image (bright = hole; transparent = no hole). Other tools set the mask through
// setFromImage (a file) or pixels() and put() (damage.js's Find damage), each one undo step.
// Every state of the mask carries a `tag`, whatever the tool that made it wants to remember
// about it (Find damage: the threshold its pixels were painted at); undo and redo bring the
// tag back with the pixels, strokes keep it, clear, import and a new image drop it.

const MASK_RGB = 'rgb(255, 0, 160)';
export const HOLE_RGBA = [255, 0, 160, 255]; // a hole pixel as ImageData writes it
const UNDO_BYTES = 192 * 1024 * 1024; // memory the undo history may hold

export class MaskLayer {
  constructor(canvas, { onChange = () => {} } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true });
    this.onChange = onChange;
    this.tool = 'brush';
    this.size = 24;
    this.undoStack = [];
    this.redoStack = [];
    this.stroke = null; // {id, last} while a pointer paints
    this.tag = null;
  }

  get width() { return this.canvas.width; }
  get height() { return this.canvas.height; }

  reset(width, height) {
    this.canvas.width = width;
    this.canvas.height = height;
    this.ctx.clearRect(0, 0, width, height);
    this.undoStack = [];
    this.redoStack = [];
    this.stroke = null;
    this.tag = null;
    this.onChange();
  }

  // Client coordinates to image pixels (the bounding box includes any zoom transform).
  toImage(e) {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * this.width) / r.width, y: ((e.clientY - r.top) * this.height) / r.height };
  }

  paint(a, b) {
    const c = this.ctx;
    c.save();
    c.globalCompositeOperation = this.tool === 'eraser' ? 'destination-out' : 'source-over';
    c.strokeStyle = MASK_RGB;
    c.fillStyle = MASK_RGB;
    c.lineWidth = this.size;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    if (a.x === b.x && a.y === b.y) {
      c.arc(a.x, a.y, this.size / 2, 0, Math.PI * 2);
      c.fill();
    } else {
      c.moveTo(a.x, a.y);
      c.lineTo(b.x, b.y);
      c.stroke();
    }
    c.restore();
  }

  // --- strokes ---

  begin(e) {
    this.snapshot();
    const p = this.toImage(e);
    this.stroke = { id: e.pointerId, last: p };
    this.paint(p, p);
    this.onChange();
  }

  move(e) {
    if (!this.stroke || this.stroke.id !== e.pointerId) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of (events.length ? events : [e])) {
      const p = this.toImage(ev);
      this.paint(this.stroke.last, p);
      this.stroke.last = p;
    }
  }

  end(e) {
    if (this.stroke && (!e || this.stroke.id === e.pointerId)) this.stroke = null;
  }

  // A stroke that turned out to be the first finger of a pinch: take it back.
  abandon() {
    if (!this.stroke) return;
    this.stroke = null;
    if (this.undoStack.length) this.restore(this.undoStack.pop());
    this.onChange();
  }

  // --- history ---

  // The current state as a history entry: its pixels and its tag.
  state() {
    return { image: this.ctx.getImageData(0, 0, this.width, this.height), tag: this.tag };
  }

  restore(entry) {
    this.ctx.putImageData(entry.image, 0, 0);
    this.tag = entry.tag;
  }

  snapshot() {
    const limit = Math.max(3, Math.floor(UNDO_BYTES / Math.max(1, this.width * this.height * 4)));
    this.undoStack.push(this.state());
    while (this.undoStack.length > limit) this.undoStack.shift();
    this.redoStack = [];
  }

  undo() {
    if (!this.undoStack.length) return;
    this.redoStack.push(this.state());
    this.restore(this.undoStack.pop());
    this.onChange();
  }

  redo() {
    if (!this.redoStack.length) return;
    this.undoStack.push(this.state());
    this.restore(this.redoStack.pop());
    this.onChange();
  }

  clear() {
    this.snapshot();
    this.ctx.clearRect(0, 0, this.width, this.height);
    this.tag = null;
    this.onChange();
  }

  // --- the mask as pixels (RGBA; alpha >= 128 = hole), for tools that compute a mask ---

  pixels() {
    return this.ctx.getImageData(0, 0, this.width, this.height);
  }

  // Replace the mask with `image` (an ImageData of the mask's size) and its tag. With
  // `snapshot` the change is a new undo step; without, it joins the last one (a slider's drag).
  put(image, { tag = null, snapshot = true } = {}) {
    if (snapshot) this.snapshot();
    this.ctx.putImageData(image, 0, 0);
    this.tag = tag;
    this.onChange();
  }

  // --- the mask as a file ---

  // The hole as {png: Blob (white = hole, black = keep), any: whether there is a hole}.
  async toPng() {
    const w = this.width;
    const h = this.height;
    const src = this.ctx.getImageData(0, 0, w, h).data;
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
    const png = await new Promise((resolve) => c.toBlob(resolve, 'image/png'));
    return { png, any };
  }

  // Replace the mask with an image's hole: pixels at least half bright (and at least half
  // opaque) are the hole, as the server reads masks. An image of another size is stretched
  // to the image's (nearest neighbour). Undo brings the old mask back. Returns
  // {holes: hole pixels, resized: whether the size differed}.
  async setFromImage(blob) {
    const bitmap = await createImageBitmap(blob);
    const resized = bitmap.width !== this.width || bitmap.height !== this.height;
    const c = document.createElement('canvas');
    c.width = this.width;
    c.height = this.height;
    const cx = c.getContext('2d', { willReadFrequently: true });
    cx.imageSmoothingEnabled = false;
    cx.drawImage(bitmap, 0, 0, this.width, this.height);
    if (bitmap.close) bitmap.close();
    const src = cx.getImageData(0, 0, this.width, this.height).data;
    const out = new ImageData(this.width, this.height);
    const dst = out.data;
    let holes = 0;
    for (let i = 0; i < this.width * this.height; i++) {
      const o = i * 4;
      const lum = (0.299 * src[o] + 0.587 * src[o + 1] + 0.114 * src[o + 2]) * (src[o + 3] / 255);
      if (lum >= 127.5) {
        dst.set(HOLE_RGBA, o);
        holes++;
      }
    }
    this.put(out);
    return { holes, resized, width: bitmap.width, height: bitmap.height };
  }
}

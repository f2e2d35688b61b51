// The page's modes. Each mode says which task of the method table it serves now, which panels
// it shows, what the Fill button says, how the stage looks (the canvas size and what is drawn on
// it) and which request a fill sends. A new task is one more entry here, with its panel in
// index.html, or (like the guide photo, which turns inpainting into guided inpainting) a panel
// of a mode that changes its task and request; the page's run, progress, cancel and result code
// stays as it is.

import { $ } from './dom.js';

export function outpaintSides() {
  const out = {};
  for (const k of ['top', 'left', 'right', 'bottom']) {
    const v = Math.floor(Number($(`side-${k}`).value));
    out[k] = Number.isFinite(v) && v > 0 ? v : 0;
  }
  return out;
}

export const MODES = {
  inpaint: {
    // The method table's task: the picker offers the methods that serve it. With a guide photo
    // loaded (js/guide.js) the fill is guided inpainting.
    task: (page) => (page.guide() ? 'guided' : 'inpaint'),
    panels: ['tools', 'guide-group'],
    runLabel: 'Fill ',
    hint: 'Paint over what should go, then press Fill.',
    showsMask: true,
    canvas: (page) => ({ width: page.width, height: page.height, left: 0, top: 0 }),
    // {url, form fields, before: the image the result is compared with} or {error}.
    async request(page) {
      const { png, any } = await page.mask.toPng();
      if (!any) return { error: 'Paint over the part to fill first (B for the brush).' };
      const files = { image: page.file, mask: png };
      const guide = page.guide();
      if (guide) files.guide = guide;
      return { url: '/api/inpaint', files, fields: {}, before: page.file };
    },
  },
  outpaint: {
    task: () => 'outpaint',
    panels: ['sides'],
    runLabel: 'Extend ',
    hint: 'Choose how many pixels to add on each side, then press Extend.',
    showsMask: false,
    checker: true,
    canvas: (page) => {
      const s = outpaintSides();
      return { width: page.width + s.left + s.right, height: page.height + s.top + s.bottom, left: s.left, top: s.top };
    },
    async request(page) {
      const s = outpaintSides();
      if (!(s.top || s.left || s.right || s.bottom)) return { error: 'Set how many pixels to add on at least one side.' };
      const fields = {};
      for (const k of Object.keys(s)) fields[k] = String(s[k]);
      return { url: '/api/outpaint', files: { image: page.file }, fields, before: await page.stagePng() };
    },
  },
};

// Every panel some mode shows; the others are hidden when a mode is chosen.
export const PANELS = [...new Set(Object.values(MODES).flatMap((m) => m.panels))];

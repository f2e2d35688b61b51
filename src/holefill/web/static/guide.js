// Guided inpainting on the page: a second image slot, the guide photo. Self-contained: it
// adds the photo to the inpaint request (app.js calls window.holefillGuide.addTo(form)),
// and keeps the method picker on a guided method while a guide is loaded, on an ordinary
// one otherwise. Guided methods are those whose task is "guided" in GET /api/methods.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const group = $('guide-group');
  const input = $('guide-file');
  const thumb = $('guide-thumb');
  const clear = $('guide-clear');
  const method = $('method');
  if (!group || !input || !method) return;

  const state = { file: null, url: null, tasks: {}, defaults: { inpaint: null, guided: null } };

  async function loadTasks() {
    try {
      const res = await fetch('/api/methods');
      if (!res.ok) return;
      for (const m of await res.json()) {
        const task = m.task || 'inpaint';
        state.tasks[m.name] = task;
        // each task's default: the server's default for it, else its first ready method
        if (m.ready && (m.default || !state.defaults[task])) state.defaults[task] = m.name;
      }
      label();
    } catch (_) { /* app.js reports an unreachable server */ }
  }

  // The picker's guided methods say so; they are only choosable while a guide is loaded.
  function label() {
    for (const opt of method.options) {
      const task = state.tasks[opt.value];
      if (task !== 'guided') continue;
      if (!opt.dataset.plain) opt.dataset.plain = opt.textContent;
      opt.textContent = `${opt.dataset.plain} (with a guide)`;
    }
  }

  function pick(task) {
    const current = state.tasks[method.value] || 'inpaint';
    if (current === task) return;
    const wanted = state.defaults[task];
    if (wanted && [...method.options].some((o) => o.value === wanted && !o.disabled)) {
      method.value = wanted;
      method.dispatchEvent(new Event('change'));
    }
  }

  function show(file) {
    if (state.url) URL.revokeObjectURL(state.url);
    state.file = file;
    state.url = file ? URL.createObjectURL(file) : null;
    thumb.hidden = !file;
    clear.disabled = !file;
    if (file) {
      thumb.src = state.url;
      thumb.alt = `Guide photo: ${file.name || 'pasted image'}`;
    } else {
      thumb.removeAttribute('src');
      input.value = '';
    }
    group.dataset.loaded = String(Boolean(file));
    pick(file ? 'guided' : 'inpaint');
  }

  input.addEventListener('change', () => { if (input.files && input.files[0]) show(input.files[0]); });
  clear.addEventListener('click', () => show(null));
  // Choosing a guided method without a guide opens the file picker's hint.
  method.addEventListener('change', () => {
    group.classList.toggle('wanted', state.tasks[method.value] === 'guided' && !state.file);
  });
  // The guide belongs to inpainting; outpainting hides the slot.
  for (const b of document.querySelectorAll('[data-mode]')) {
    b.addEventListener('click', () => { group.hidden = b.dataset.mode !== 'inpaint'; });
  }

  window.holefillGuide = {
    get file() { return state.file; },
    addTo(form) {
      if (state.file && state.tasks[form.get('method')] === 'guided') form.append('guide', state.file, 'guide');
    },
  };
  // Method options arrive asynchronously (app.js); label them once they are there.
  new MutationObserver(label).observe(method, { childList: true });
  loadTasks();
})();

// Small DOM helpers shared by the page's modules: lookups, status line, errors.

export const $ = (id) => document.getElementById(id);

export function setBodyState(s) { document.body.dataset.state = s; }

export function status(text) { $('status-text').textContent = text; }

export function showError(text) {
  const el = $('error');
  el.textContent = text;
  el.hidden = false;
}

export function hideError() {
  const el = $('error');
  el.hidden = true;
  el.textContent = '';
}

export function showWarning(text) {
  const el = $('warning');
  el.textContent = text;
  el.hidden = !text;
}

// Save a Blob under a file name (the browser's download).
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// Whether a key event is meant for a text field rather than for the page's shortcuts.
export function isTyping(target) {
  return target instanceof HTMLElement && (target.isContentEditable || target.tagName === 'TEXTAREA'
    || target.tagName === 'SELECT'
    || (target.tagName === 'INPUT' && !['range', 'checkbox', 'radio', 'button', 'file'].includes(target.type)));
}

// The realism study: show a pair (which is real?) or one image (real or not?), store the answer.
// The server decides the order and the sides; the page only shows what it is told.
(() => {
  'use strict';

  const KEY = 'holefill-study-token';
  const $ = (id) => document.getElementById(id);
  let info = null;
  let current = null;   // {trial, shownAt}
  let busy = false;
  let token = null;

  // The server issues a signed participant token, one per browser session: a reload keeps
  // it (sessionStorage), a new session gets a new one. Made-up ids are refused.
  async function participantToken() {
    try { token = sessionStorage.getItem(KEY); } catch (_) { /* storage blocked */ }
    if (!token || !/^[A-Za-z0-9_-]{44}$/.test(token)) {
      token = (await api('/api/study/session', { method: 'POST' })).token;
      try { sessionStorage.setItem(KEY, token); } catch (_) { /* storage blocked */ }
    }
    return token;
  }

  function fail(message) {
    $('error').textContent = message;
    $('error').hidden = false;
  }

  async function api(url, options) {
    const res = await fetch(url, options);
    let body = null;
    try { body = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) throw new Error((body && body.error) || `the server answered ${res.status}`);
    return body;
  }

  function setEnabled(on) {
    for (const b of document.querySelectorAll('[data-choice]')) b.disabled = !on;
  }

  function loadImage(img, url) {
    img.src = url;
    return img.decode ? img.decode().catch(() => {}) : Promise.resolve();
  }

  async function next() {
    busy = true;
    setEnabled(false);
    try {
      const t = await api(`/api/study/next?participant=${encodeURIComponent(token)}`);
      $('progress-text').textContent = `Question ${Math.min(t.answered + 1, t.total)} of ${t.total}`;
      $('progress-fill').style.width = `${t.total ? (100 * t.answered) / t.total : 100}%`;
      if (t.done) {
        $('trial').hidden = true;
        $('done').hidden = false;
        $('code').textContent = token.slice(0, 22);  // the participant id, not the signature
        document.body.dataset.state = 'done';
        current = null;
        return;
      }
      if (info.mode === 'pair') {
        await Promise.all([loadImage($('img-0'), t.images[0]), loadImage($('img-1'), t.images[1])]);
      } else {
        await loadImage($('img-single'), t.images[0]);
      }
      current = { trial: t.trial, shownAt: performance.now() };
      document.body.dataset.state = 'trial';
      document.body.dataset.trial = String(t.trial);
      setEnabled(true);
    } catch (err) {
      fail(`Could not load the next question (${err.message}). Reload the page to try again.`);
    } finally {
      busy = false;
    }
  }

  async function answer(choice) {
    if (!current || busy) return;
    busy = true;
    setEnabled(false);
    const { trial, shownAt } = current;
    current = null;
    try {
      await api('/api/study/vote', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          participant: token, trial, choice, response_ms: Math.round(performance.now() - shownAt),
        }),
      });
    } catch (err) {
      busy = false;
      fail(`Your answer could not be saved (${err.message}). Reload the page to try again.`);
      return;
    }
    busy = false;
    next();
  }

  for (const b of document.querySelectorAll('[data-choice]')) {
    b.addEventListener('click', () => answer(b.dataset.choice));
  }

  document.addEventListener('keydown', (e) => {
    if (!current || e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.toLowerCase();
    if (info.mode === 'pair') {
      if (k === '1' || k === 'arrowleft') answer('0');
      else if (k === '2' || k === 'arrowright') answer('1');
    } else if (k === 'r') answer('real');
    else if (k === 'f') answer('fake');
  });

  $('start').addEventListener('click', () => {
    $('intro').hidden = true;
    $('trial').hidden = false;
    next();
  });

  Promise.all([api('/api/study'), participantToken()]).then(([i]) => {
    info = i;
    $('question').textContent = i.question;
    $('pair').hidden = i.mode !== 'pair';
    $('single').hidden = i.mode !== 'single';
    $('instructions').append(` There are ${i.trials} questions.`);
    $('start').disabled = false;
    document.body.dataset.state = 'intro-ready';
  }).catch((err) => fail(`This study cannot be loaded (${err.message}).`));
})();

// The server's REST API as the page uses it: the method table, and fill jobs that report
// their progress and can be cancelled on the server (not only in the browser).

// The error a failed request carries: the server's one-line message when it sent one.
export class ServerError extends Error {}

async function errorOf(res) {
  let message = `The server answered ${res.status} ${res.statusText}.`;
  try {
    const body = await res.json();
    if (body && body.error) message = body.error;
  } catch (_) { /* not JSON */ }
  return new ServerError(message);
}

export async function getMethods() {
  const res = await fetch('/api/methods');
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

// A random job id (128 bits, base64url): the client names its job, so it can watch and
// cancel it while the POST is still waiting for the result.
export function newJobId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// One fill: POST the form to `url` under a new job id, call onStatus({state, progress,
// seconds, waited}) while it runs, and resolve to the Response (ok) or throw a ServerError.
// job.cancel() stops it on the server and in the browser.
export function startFill(url, form, onStatus) {
  const id = newJobId();
  const controller = new AbortController();
  let done = false;
  let cancelled = false;

  async function poll() {
    while (!done) {
      await new Promise((r) => setTimeout(r, 250));
      if (done) break;
      try {
        const res = await fetch(`/api/jobs/${id}`, { cache: 'no-store' });
        if (res.ok && !done) onStatus(await res.json());
      } catch (_) { /* the next poll tries again */ }
    }
  }

  const result = (async () => {
    poll();
    try {
      const res = await fetch(url, {
        method: 'POST', body: form, headers: { 'X-Holefill-Job': id }, signal: controller.signal,
      });
      if (!res.ok) throw await errorOf(res);
      return res;
    } finally {
      done = true;
    }
  })();

  return {
    id,
    result,
    get cancelled() { return cancelled; },
    async cancel() {
      if (done || cancelled) return;
      cancelled = true;
      // Tell the server first (it stops the job's worker), then stop waiting.
      try {
        await fetch(`/api/jobs/${id}`, { method: 'DELETE', keepalive: true });
      } catch (_) { /* hanging up below stops it too */ }
      controller.abort();
    },
  };
}

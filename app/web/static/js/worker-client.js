// Every signed-in page registers the service worker (/web/sw.js, scope /web/), so that Web Push
// alerts reach this browser with the tab closed, and hands it the page's CSRF token (the worker
// confirms a push contact method with it: see sw.js). body[data-worker] says how it went.

export const WORKER = "/web/sw.js";
export const SCOPE = "/web/";

async function register() {
  if (!("serviceWorker" in navigator)) {
    document.body.dataset.worker = "unsupported";
    return;
  }
  try {
    await navigator.serviceWorker.register(WORKER, { scope: SCOPE, type: "classic" });
    const ready = await navigator.serviceWorker.ready;
    const csrf = document.querySelector('meta[name="csrf-token"]')?.content;
    if (csrf) ready.active?.postMessage({ csrf });
    document.body.dataset.worker = "ready";
  } catch (error) {
    console.warn("the service worker did not register:", error);
    document.body.dataset.worker = "failed";
  }
}

register();

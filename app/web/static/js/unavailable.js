// The outage page waits for the service to answer again, then reloads once: it asks for the
// same address in the background every Retry-After seconds (the page carries it) and reloads
// only on a real page. A timed refresh of the whole page (meta refresh) would reload under a
// reader every few seconds, which WCAG 2.2.1 forbids and a screen reader makes unusable.

const seconds = Number(document.body.dataset.retryAfter) || 5;
const status = document.getElementById("retry-status");

async function tryAgain() {
  try {
    const answer = await fetch(window.location.href, { cache: "no-store", credentials: "same-origin" });
    if (answer.ok) {
      window.location.reload();
      return;
    }
  } catch {
    // Not even an answer (the service itself is down): try again all the same.
  }
  status.textContent = `Still unavailable at ${new Date().toLocaleTimeString()}; trying again in ${seconds} seconds.`;
  setTimeout(tryAgain, seconds * 1000);
}

setTimeout(tryAgain, seconds * 1000);

// A sign-in link carries the token in its fragment (#token=…), which the browser never sends
// to any server and so no log sees: take it and drop it from the address bar and history.
// Anyone can send such a link, so it never signs in by itself (that would let another site
// put a signed-in officer into the sender's session): the page names whose session it would
// be, and only the person's click signs in.
const form = document.getElementById("sign-in-form");
const panel = document.getElementById("link-sign-in");
const problem = document.getElementById("sign-in-problem");

function showProblem(text) {
  problem.textContent = text;
  problem.hidden = false;
}

function backToTheForm() {
  form.elements.token.value = "";
  panel.hidden = true;
  form.hidden = false;
  form.elements.token.focus();
}

async function whoseSession(token) {
  // A POST body, like the sign-in itself: never a URL, so never a log line.
  const answer = await fetch(form.dataset.identity, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }),
    cache: "no-store",
    credentials: "same-origin",
  });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    throw new Error(body.detail ?? "The link's token could not be checked; try again.");
  }
  return body;
}

async function askFirst(token) {
  form.hidden = true;
  form.elements.token.value = token; // in the page's memory only, sent by the click
  let who;
  try {
    who = await whoseSession(token);
  } catch (error) {
    backToTheForm();
    showProblem(error instanceof TypeError ? "The service cannot be reached; try again." : error.message);
    return;
  }
  const where = `${who.agency} (${who.country_name})`;
  document.getElementById("link-identity").replaceChildren(
    Object.assign(document.createElement("strong"), { textContent: who.name }),
    `, ${who.role} at ${where}`,
  );
  const confirm = document.getElementById("link-confirm");
  confirm.textContent = `Sign in as ${who.name}`;
  confirm.addEventListener("click", () => form.requestSubmit(), { once: true });
  document.getElementById("link-cancel").addEventListener("click", backToTheForm, { once: true });
  panel.hidden = false;
  confirm.focus();
}

const token = new URLSearchParams(window.location.hash.slice(1)).get("token");
if (token) {
  window.history.replaceState(null, "", window.location.pathname);
  askFirst(token);
}

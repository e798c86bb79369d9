// A sign-in link carries the token in its fragment (#token=…), which the browser never sends
// to any server and so no log sees: take it, drop it from the address bar and history, and
// sign in with it.
const fragment = new URLSearchParams(window.location.hash.slice(1));
const token = fragment.get("token");
if (token) {
  window.history.replaceState(null, "", window.location.pathname);
  const form = document.getElementById("sign-in-form");
  form.elements.token.value = token;
  form.requestSubmit();
}

/**
 * Entry point and router. The server answers index.html for `/`, `/projects/:id`,
 * `/projects/:id/metrics` and `/projects/:id/tokens`; this picks the view for the path and
 * navigates between them without reloading (history API).
 */
import "./style.css";
import { h, replace } from "./dom.js";
import { metricsView } from "./metrics-view.js";
import { clearToken, getToken, setToken, takeFragmentToken } from "./session.js";
import { type AppContext, header, projectPath } from "./shell.js";
import { signInView } from "./signin.js";
import { tokensView } from "./tokens-view.js";

performance.mark("mim:start");
const root = document.getElementById("app")!;
let cleanup: () => void = () => {};
/** Why the last sign-out happened (an API error), shown once on the sign-in form. */
let signOutReason: string | null = null;

const app: AppContext = {
  navigate(path, replaceEntry = false) {
    if (replaceEntry) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
    render();
  },
  render,
  signOut(project, reason) {
    clearToken(project);
    signOutReason = reason ?? null;
    render();
  },
};

function render(): void {
  cleanup();
  cleanup = () => {};
  const path = location.pathname;
  if (path === "/") {
    cleanup = signInView(root, app, { allowRedirect: !location.search.includes("switch") });
    return;
  }
  const m = /^\/projects\/([^/]+)(?:\/(metrics|tokens))?\/?$/.exec(path);
  if (!m) {
    replace(
      root,
      header(app, null),
      h(
        "main",
        { id: "main", class: "narrow" },
        h("h1", null, "Page not found"),
        h("a", { href: "/" }, "Sign in"),
      ),
    );
    return;
  }
  const project = decodeURIComponent(m[1]);
  // The demo link: /projects/<id>/metrics#token=<token>. Store it, then drop it from the URL.
  const fromLink = takeFragmentToken();
  if (fromLink) setToken(project, fromLink);
  if (!m[2]) {
    app.navigate(projectPath(project, "metrics") + location.search, true);
    return;
  }
  const token = getToken(project);
  if (!token) {
    const reason = signOutReason;
    signOutReason = null;
    cleanup = signInView(root, app, { project, reason });
    return;
  }
  setToken(project, token); // remembers it as the session's last project
  cleanup =
    m[2] === "tokens" ? tokensView(root, app, project, token) : metricsView(root, app, project, token);
}

window.addEventListener("popstate", render);
// Never swallow an error: anything unexpected is shown at the top of the page.
const showCrash = (msg: string) => {
  const el = h("p", { class: "alert error crash", role: "alert" }, `Unexpected error: ${msg}`);
  document.body.prepend(el);
};
window.addEventListener("error", (e) => {
  // Chromium reports ResizeObserver back-pressure as an error event; it is harmless.
  if (!e.message.startsWith("ResizeObserver loop")) showCrash(e.message);
});
window.addEventListener("unhandledrejection", (e) => showCrash(String(e.reason)));
render();

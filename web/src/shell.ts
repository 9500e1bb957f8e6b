/** The frame around every signed-in view: product name, project, navigation and sign-out. */
import { h } from "./dom.js";

export interface AppContext {
  /** Client-side navigation (pushState, or replaceState with replace). */
  navigate(path: string, replace?: boolean): void;
  /** Re-renders the current route (e.g. after the sign-in changed). */
  render(): void;
  /** Forgets the project's token and shows the sign-in form, with an optional reason. */
  signOut(project: string, reason?: string): void;
}

export const projectPath = (project: string, page: "metrics" | "tokens") =>
  `/projects/${encodeURIComponent(project)}/${page}`;

/** An <a> that navigates without reloading (a normal link for new tabs and no-JS semantics). */
export function navLink(app: AppContext, href: string, text: string, current = false): HTMLAnchorElement {
  const a = h("a", { href, "aria-current": current ? "page" : null }, text);
  a.addEventListener("click", (ev) => {
    const e = ev as MouseEvent;
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    app.navigate(href);
  });
  return a;
}

export function header(app: AppContext, project: string | null, page?: "metrics" | "tokens"): HTMLElement {
  return h(
    "header",
    { class: "topbar" },
    h("a", { class: "skip", href: "#main" }, "Skip to content"),
    h("span", { class: "brand" }, "Managed Inference Metrics"),
    project
      ? [
          h("span", { class: "project" }, "Project ", h("strong", null, project)),
          h(
            "nav",
            { "aria-label": "Project pages" },
            navLink(app, projectPath(project, "metrics"), "Metrics", page === "metrics"),
            navLink(app, projectPath(project, "tokens"), "Tokens", page === "tokens"),
          ),
          h("span", { class: "spacer" }),
          navLink(app, "/?switch", "Switch project"),
          h(
            "button",
            { type: "button", class: "btn small", onclick: () => app.signOut(project) },
            "Sign out",
          ),
        ]
      : null,
  );
}

/** The message shown when the API refuses the token, with the way back in. */
export function authAlert(app: AppContext, project: string, message: string): HTMLElement {
  return h(
    "div",
    { class: "alert error", role: "alert" },
    h("strong", null, "Your monitoring token is no longer accepted."),
    h("p", null, `The API said: ${message}`),
    h(
      "button",
      { type: "button", class: "btn primary", onclick: () => app.signOut(project, message) },
      "Sign in again",
    ),
  );
}

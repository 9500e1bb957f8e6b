/**
 * Sign-in: a project id and a monitoring token. The token is checked with one cheap call to the
 * public API (the model list the metrics view needs anyway) before it is kept in sessionStorage.
 */
import { Api, ApiError } from "./api.js";
import { h, replace, uid } from "./dom.js";
import { getToken, lastProject, setToken } from "./session.js";
import { type AppContext, header, projectPath } from "./shell.js";

const PROJECT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function signInView(
  root: HTMLElement,
  app: AppContext,
  opts: { project?: string | null; reason?: string | null; allowRedirect?: boolean },
): () => void {
  // `/` remembers the last project of this browser session and goes straight to its metrics.
  const remembered = lastProject();
  if (opts.allowRedirect && remembered && getToken(remembered)) {
    app.navigate(projectPath(remembered, "metrics"), true);
    return () => {};
  }
  const pid = uid("project");
  const tid = uid("token");
  const project = h("input", {
    id: pid,
    name: "project",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    pattern: PROJECT_RE.source,
    value: opts.project ?? remembered ?? "",
  });
  const token = h("input", {
    id: tid,
    name: "token",
    type: "password",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "mim_mon_…",
  });
  const status = h("div", { class: "form-status", role: "alert" });
  const submit = h("button", { type: "submit", class: "btn primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to a project's metrics"),
    opts.reason
      ? h("p", { class: "alert error", role: "alert" }, `The API refused the token: ${opts.reason}`)
      : null,
    h("label", { for: pid }, "Project ID"),
    project,
    h("label", { for: tid }, "Monitoring token"),
    token,
    h(
      "p",
      { class: "hint" },
      "Create one with ",
      h("code", null, "crusoe monitoring tokens create"),
      ", or open the link ",
      h("code", null, "npm start"),
      " prints. The token stays in this tab (sessionStorage) and is sent only to this site's API.",
    ),
    status,
    submit,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const p = project.value.trim();
    const t = token.value.trim();
    if (!PROJECT_RE.test(p)) {
      replace(status, "A project ID is 1–128 letters, digits, '.', '_' or '-'.");
      return;
    }
    submit.disabled = true;
    replace(status, h("span", { class: "muted" }, "Checking the token…"));
    try {
      await new Api(p, t).labelValues("model_name", "crusoe_inference_request_count");
      setToken(p, t);
      app.navigate(projectPath(p, "metrics"));
    } catch (e) {
      const msg = e instanceof ApiError ? `${e.message} (${e.errorType})` : String(e);
      replace(status, h("span", { class: "error-text" }, `Sign-in failed: ${msg}`));
      submit.disabled = false;
    }
  });
  replace(root, header(app, null), h("main", { id: "main", class: "narrow" }, form));
  (opts.project ? token : project).focus();
  return () => {};
}

/**
 * The tokens page: create (the value is shown once, with a copy button), list, revoke (after a
 * confirmation dialog). It calls the project's token API with the signed-in monitoring token, as
 * docs/api.md allows; a token that expires can only create tokens that expire no later, and the
 * API's refusal is shown as it is.
 */
import { Api, ApiError, type TokenInfo } from "./api.js";
import { copyButton } from "./copy.js";
import { h, replace, uid } from "./dom.js";
import { shortDate } from "./format.js";
import { type AppContext, authAlert, header } from "./shell.js";

const EXPIRIES: ReadonlyArray<[string, string]> = [
  ["1d", "1 day"],
  ["7d", "7 days"],
  ["30d", "30 days"],
  ["90d", "90 days"],
  ["365d", "1 year"],
  ["", "Never"],
];

export function tokensView(root: HTMLElement, app: AppContext, project: string, token: string): () => void {
  const api = new Api(project, token);
  const isCurrent = (t: TokenInfo) => token.startsWith(t.prefix);
  const banner = h("div", { class: "banner" });

  const fail = (where: HTMLElement, e: unknown) => {
    if (e instanceof ApiError && e.isAuth) {
      replace(banner, authAlert(app, project, e.message));
      return;
    }
    const msg = e instanceof ApiError ? `${e.message} (${e.errorType})` : String(e);
    replace(where, h("p", { class: "alert error", role: "alert" }, msg));
  };

  // --- create ---
  const nameId = uid("name");
  const expId = uid("expires");
  const name = h("input", { id: nameId, name: "name", required: true, maxlength: 200, value: "grafana" });
  const expires = h(
    "select",
    { id: expId, name: "expires" },
    EXPIRIES.map(([v, label]) => h("option", { value: v }, label)),
  );
  expires.value = "90d";
  const createStatus = h("div", { class: "form-status" });
  const created = h("div", { class: "created", role: "status" });
  /** The id of the token whose value `created` shows (cleared when that token is revoked). */
  let shownId: string | null = null;
  const createBtn = h("button", { type: "submit", class: "btn primary" }, "Create token");
  const form = h(
    "form",
    { class: "card create", "aria-labelledby": "create-title" },
    h("h2", { id: "create-title" }, "Create a monitoring token"),
    h(
      "div",
      { class: "row" },
      h("div", { class: "field" }, h("label", { for: nameId }, "Name"), name),
      h("div", { class: "field" }, h("label", { for: expId }, "Expires after"), expires),
      createBtn,
    ),
    createStatus,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    createBtn.disabled = true;
    replace(createStatus);
    try {
      const t = await api.createToken(name.value.trim(), expires.value || null);
      shownId = t.id;
      const valueId = uid("new-token");
      replace(
        created,
        h(
          "div",
          { class: "alert ok" },
          h("strong", null, `Token “${t.name}” created. Copy it now: it will not be shown again.`),
          h(
            "div",
            { class: "query" },
            h("code", { id: valueId, class: "token-value" }, t.token),
            copyButton(() => t.token, "Copy", valueId),
          ),
          h(
            "button",
            { type: "button", class: "btn small", onclick: () => replace(created) },
            "I have stored it",
          ),
        ),
      );
      await list();
    } catch (e) {
      fail(createStatus, e);
    } finally {
      createBtn.disabled = false;
    }
  });

  // --- list ---
  const tbody = h("tbody");
  const listStatus = h("div", { class: "form-status" });
  const table = h(
    "table",
    { class: "tokens" },
    h("caption", null, `Active monitoring tokens of project ${project}`),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        ["Name", "Prefix", "Created", "Last used", "Expires"].map((c) => h("th", { scope: "col" }, c)),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
      ),
    ),
    tbody,
  );

  /** Renders the list; false (with the error shown) if it could not be fetched. */
  async function list(): Promise<boolean> {
    try {
      const tokens = await api.listTokens();
      tokens.sort((a, b) => b.created_at.localeCompare(a.created_at));
      replace(listStatus);
      replace(
        tbody,
        tokens.length === 0
          ? h("tr", null, h("td", { colspan: 6, class: "muted" }, "No active tokens."))
          : null,
        tokens.map((t) => {
          const expired = t.expires_at != null && Date.parse(t.expires_at) <= Date.now();
          return h(
            "tr",
            { "data-token-id": t.id },
            h("td", null, t.name, isCurrent(t) ? h("span", { class: "badge" }, "this session") : null),
            h("td", null, h("code", null, `${t.prefix}…`)),
            h("td", { class: "when", title: t.created_at }, shortDate(t.created_at)),
            h("td", { class: "when", title: t.last_used_at ?? "" }, shortDate(t.last_used_at, "never")),
            h(
              "td",
              { class: "when", title: t.expires_at ?? "" },
              expired ? "expired" : shortDate(t.expires_at, "never"),
            ),
            h(
              "td",
              null,
              h(
                "button",
                {
                  type: "button",
                  class: "btn small danger",
                  "aria-label": `Revoke ${t.name} (${t.prefix}…)`,
                  onclick: () => confirmRevoke(t),
                },
                "Revoke",
              ),
            ),
          );
        }),
      );
      return true;
    } catch (e) {
      fail(listStatus, e);
      return false;
    }
  }

  // --- revoke, after a modal confirmation (Esc or Cancel keeps the token) ---
  const dialogText = h("p");
  const dialog = h(
    "dialog",
    { class: "confirm", "aria-labelledby": "revoke-title" },
    h(
      "form",
      { method: "dialog" },
      h("h2", { id: "revoke-title" }, "Revoke this token?"),
      dialogText,
      h(
        "div",
        { class: "row end" },
        h("button", { value: "cancel", class: "btn", autofocus: true }, "Cancel"),
        h("button", { value: "revoke", class: "btn danger" }, "Revoke"),
      ),
    ),
  );
  let pending: TokenInfo | null = null;
  function confirmRevoke(t: TokenInfo) {
    pending = t;
    dialogText.textContent = isCurrent(t)
      ? `“${t.name}” (${t.prefix}…) is the token this page is signed in with: revoking it signs you out. Anything else using it stops working at once.`
      : `Anything using “${t.name}” (${t.prefix}…) stops working at once. This cannot be undone.`;
    dialog.returnValue = "";
    dialog.showModal();
  }
  dialog.addEventListener("close", async () => {
    const t = pending;
    pending = null;
    if (!t || dialog.returnValue !== "revoke") return;
    try {
      await api.revokeToken(t.id);
      if (t.id === shownId) replace(created);
      if (isCurrent(t)) {
        app.signOut(project, "you revoked the token this page was signed in with");
        return;
      }
      if (await list())
        replace(listStatus, h("p", { class: "alert ok", role: "status" }, `Revoked “${t.name}”.`));
    } catch (e) {
      fail(listStatus, e);
    }
  });

  replace(
    root,
    header(app, project, "tokens"),
    h(
      "main",
      { id: "main", class: "narrow wide" },
      h("h1", null, "Monitoring tokens"),
      h(
        "p",
        { class: "desc" },
        "Tokens read this project's metrics through the query API (Grafana, curl, this page). Only a hash is stored: a token's value is shown once, when it is created.",
      ),
      banner,
      form,
      created,
      h("section", { class: "card" }, table, listStatus),
      dialog,
    ),
  );
  list();
  return () => dialog.close();
}

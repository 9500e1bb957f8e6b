/** Copy buttons: the async Clipboard API, or a selected textarea and execCommand where it is refused. */
import { h } from "./dom.js";

export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // Permission denied or no secure context: fall through to the legacy path.
  }
  const ta = h("textarea", { class: "offscreen", "aria-hidden": "true", readonly: true });
  ta.value = text;
  document.body.appendChild(ta);
  ta.select();
  const ok = document.execCommand("copy");
  ta.remove();
  if (!ok) throw new Error("the browser refused to copy; select the text and copy it by hand");
}

/** A button that copies what `text()` returns and says so (to screen readers too). */
export function copyButton(text: () => string, label = "Copy", describedBy?: string): HTMLButtonElement {
  const btn = h("button", { type: "button", class: "btn small", "aria-describedby": describedBy }, label);
  let timer = 0;
  btn.addEventListener("click", async () => {
    window.clearTimeout(timer);
    try {
      await copyText(text());
      btn.textContent = "Copied";
      btn.dataset.state = "ok";
    } catch (e) {
      btn.textContent = "Copy failed";
      btn.dataset.state = "error";
      btn.title = (e as Error).message;
    }
    timer = window.setTimeout(() => {
      btn.textContent = label;
      delete btn.dataset.state;
    }, 2000);
  });
  return btn;
}

/**
 * Where the sign-in lives: sessionStorage only (gone when the tab closes, never localStorage), one
 * token per project. The demo link carries the token in the URL fragment, which browsers never send
 * to a server; it is read once, stored, and removed from the address bar and history.
 */

const tokenKey = (project: string) => `mim.token.${project}`;
const LAST_PROJECT = "mim.lastProject";

function store(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the sign-in then lasts until the page is reloaded
  }
}

const memory = new Map<string, string>();

export function getToken(project: string): string | null {
  return store()?.getItem(tokenKey(project)) ?? memory.get(project) ?? null;
}

export function setToken(project: string, token: string): void {
  memory.set(project, token);
  store()?.setItem(tokenKey(project), token);
  store()?.setItem(LAST_PROJECT, project);
}

export function clearToken(project: string): void {
  memory.delete(project);
  store()?.removeItem(tokenKey(project));
}

export function lastProject(): string | null {
  return store()?.getItem(LAST_PROJECT) ?? null;
}

/** Takes `#token=…` off the URL (keeping path and query) and returns it. */
export function takeFragmentToken(): string | null {
  if (!location.hash.startsWith("#")) return null;
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (!token) return null;
  history.replaceState(history.state, "", location.pathname + location.search);
  return token.trim();
}

import "./api-key.css";

// sessionStorage: the key lives as long as the tab, never on disk across browser sessions.
const STORAGE_KEY = "crawlq.apiKey";

/** The API key entered in this browser session, or null. */
export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** Forgets the session's key (refused by the service, or "forget key" clicked). */
export function forgetKey(): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage disabled: nothing was kept.
  }
}

/** `Authorization` header value for the session's key, or null without one. */
export function authorization(): string | null {
  const key = storedKey();
  return key === null ? null : `Bearer ${key}`;
}

let asking: Promise<string> | null = null;

/**
 * Shows the key form (once, however many requests were refused) and resolves with the key entered, which
 * is then kept for the browser session.
 */
export function askForKey(reason: string): Promise<string> {
  asking ??= new Promise<string>((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.className = "crawlq-key";
    const form = document.createElement("form");
    form.method = "dialog";
    const title = document.createElement("h2");
    title.textContent = "API key required";
    const text = document.createElement("p");
    text.textContent = reason;
    const input = document.createElement("input");
    input.type = "password";
    input.name = "key";
    input.placeholder = "cq_…";
    input.autocomplete = "off";
    input.required = true;
    input.setAttribute("aria-label", "API key");
    const note = document.createElement("p");
    note.className = "crawlq-key-note";
    note.textContent = "Kept in this tab's session storage only, sent as Authorization: Bearer.";
    const button = document.createElement("button");
    button.type = "submit";
    button.textContent = "Use key";
    form.append(title, text, input, note, button);
    dialog.append(form);
    // Escape would close the dialog with no key: keep asking instead.
    dialog.addEventListener("cancel", (event) => event.preventDefault());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = input.value.trim().replace(/^Bearer\s+/i, "");
      if (key === "") return;
      try {
        sessionStorage.setItem(STORAGE_KEY, key);
      } catch {
        // Storage disabled: the key still works until the page is left.
      }
      dialog.close();
      dialog.remove();
      asking = null;
      resolve(key);
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
  return asking;
}

/**
 * fetch for the GraphQL endpoint with the session's key; on 401 asks for a key and tries again (a key
 * that is refused too is forgotten and asked for again).
 */
export async function fetchWithKey(url: string, init: RequestInit): Promise<Response> {
  for (;;) {
    const headers = new Headers(init.headers);
    const auth = authorization();
    if (auth !== null) headers.set("authorization", auth);
    const response = await fetch(url, { ...init, headers });
    if (response.status !== 401) return response;
    forgetKey();
    await askForKey(
      auth !== null
        ? "The service refused that key. Enter a valid API key."
        : "This crawlq requires an API key (create one with `npx crawlq keys create NAME`).",
    );
  }
}

/*
 * Calling the gateway: same-origin fetches carrying the key, its error JSON read back as the
 * message it wrote, and its SSE streams parsed as they arrive.
 *
 * The API key lives in this tab's sessionStorage and travels only in the Authorization
 * header: never in a URL, never logged.
 */

const KEY_STORAGE = "llm-gateway.playground.key";

/** The key set in this tab, or "". */
export function currentKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function rememberKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}

/** fetch() of a gateway path with the key, no cookies, no cache, no referrer. */
export function call(path, options = {}) {
  const headers = new Headers(options.headers || {});
  const key = currentKey();
  if (key) headers.set("authorization", "Bearer " + key);
  return fetch(path, {
    ...options,
    headers,
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
  });
}

/** The status and the message the gateway put in its error JSON (OpenAI, Anthropic or the seed API's shape). */
export async function errorText(response) {
  let message = "";
  try {
    const payload = await response.json();
    const error = payload && payload.error;
    if (error && typeof error === "object" && typeof error.message === "string") message = error.message;
    else if (typeof error === "string") message = error;
    else if (payload && typeof payload.message === "string") message = payload.message;
  } catch (_) {
    // not JSON: the status line says enough
  }
  let text = `${response.status} ${response.statusText || ""}`.trim();
  if (message) text += ": " + message;
  const retryAfter = response.headers.get("retry-after");
  if (response.status === 429 && retryAfter) text += ` (retry after ${retryAfter} s)`;
  return text;
}

/** The JSON payloads of an SSE response's `data:` events, as they arrive; ends at `[DONE]` or the end. */
export async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      buffer = buffer.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        if (!data) continue;
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
      if (done) return;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

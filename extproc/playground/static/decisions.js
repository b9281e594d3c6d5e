/*
 * The decisions panel: what the gateway decided for the last request.
 *
 * Read from the response headers the gateway sets (x-gateway-*, x-ratelimit-*, retry-after)
 * and, for streams, from the final usage chunk (`usage`, and the gateway's `x_gateway`
 * figures: served_model, provider, cost_usd, usage_estimated), since a stream's headers leave
 * before its usage is known. What is absent is not shown; gateway headers this page does not
 * know yet still show, by name.
 */

import { $, formatUsd } from "./page.js";

// Header -> label, in the order the panel shows them.
const HEADER_ROWS = [
  ["x-gateway-request-id", "Request id"],
  ["x-gateway-trace-id", "Trace id"],
  ["x-gateway-served-model", "Served model"],
  ["x-gateway-provider", "Provider"],
  ["x-gateway-route-reason", "Route reason"],
  ["x-gateway-task", "Task"],
  ["x-gateway-complexity", "Complexity"],
  ["x-gateway-prompt", "Prompt"],
  ["x-gateway-prompt-version", "Prompt version"],
  ["x-gateway-attempt", "Answered by attempt"],
  ["x-gateway-attempts", "Attempts"],
  ["x-gateway-prompt-tokens", "Prompt tokens"],
  ["x-gateway-completion-tokens", "Completion tokens"],
  ["x-gateway-cached-tokens", "Cached tokens"],
  ["x-gateway-usage-estimated", "Usage estimated"],
  ["x-gateway-cost-usd", "Cost (USD)"],
  ["x-gateway-estimated-max-cost-usd", "Estimated max cost (USD)"],
  ["x-gateway-cache", "Cache"],
  ["x-gateway-cache-match", "Cache match"],
  ["x-gateway-cache-similarity", "Cache similarity"],
  ["x-gateway-cache-age", "Cache age (s)"],
  ["x-gateway-cache-explore", "Near-miss similarity"],
  // `EMAIL_ADDRESS=2, PHONE_NUMBER=1`: one item per entity type.
  ["x-gateway-redactions", "Redactions"],
];
const KNOWN = new Set(HEADER_ROWS.map(([name]) => name));
let decisions = new Map();

export function resetDecisions() {
  decisions = new Map();
  render();
}

/** Everything the response headers say. */
export function decisionsFromHeaders(headers) {
  for (const [name, label] of HEADER_ROWS) {
    const value = headers.get(name);
    if (value === null || value === "") continue;
    if (name === "x-gateway-attempts") decisions.set(label, value.split(/,\s*/).map(attemptText));
    else if (name === "x-gateway-redactions") decisions.set(label, value.split(/,\s*/));
    else decisions.set(label, value);
  }
  for (const unit of ["requests", "tokens"]) {
    const remaining = headers.get(`x-ratelimit-remaining-${unit}`);
    if (remaining === null) continue;
    const limit = headers.get(`x-ratelimit-limit-${unit}`);
    const reset = headers.get(`x-ratelimit-reset-${unit}`);
    let text = limit !== null ? `${remaining} of ${limit} left` : `${remaining} left`;
    if (reset) text += `, full in ${reset}`;
    decisions.set(`Rate limit (${unit})`, text);
  }
  const retryAfter = headers.get("retry-after");
  if (retryAfter) decisions.set("Retry after (s)", retryAfter);
  for (const [name, value] of headers) {
    if (name.startsWith("x-gateway-") && !KNOWN.has(name)) decisions.set(name, value);
  }
  render();
}

/** What a usage object (the stream's last chunk, or a whole answer's) and its `x_gateway` figures say. */
export function decisionsFromUsage(usage, figures) {
  const details = usage.prompt_tokens_details || {};
  setNumber("Prompt tokens", usage.prompt_tokens);
  setNumber("Completion tokens", usage.completion_tokens);
  setNumber("Cached tokens", details.cached_tokens);
  setNumber("Total tokens", usage.total_tokens);
  if (figures && typeof figures === "object") {
    if (figures.served_model) decisions.set("Served model", String(figures.served_model));
    if (figures.provider) decisions.set("Provider", String(figures.provider));
    if (typeof figures.cost_usd === "number") decisions.set("Cost (USD)", formatUsd(figures.cost_usd));
    if (figures.usage_estimated) decisions.set("Usage estimated", "true");
  }
  render();
}

/** `openai/gpt-4o-mini;status=503;ms=12` (extproc/attempts.py) as `openai/gpt-4o-mini: 503 in 12 ms`. */
function attemptText(item) {
  const [where, ...fields] = item.split(";");
  const facts = Object.fromEntries(fields.map((field) => field.split("=", 2)));
  if (!facts.status) return item;
  if (facts.status === "none") return `${where}: no answer`;
  return facts.ms ? `${where}: ${facts.status} in ${facts.ms} ms` : `${where}: ${facts.status}`;
}

function setNumber(label, value) {
  if (typeof value === "number") decisions.set(label, String(value));
}

function render() {
  const rows = [];
  for (const [label, value] of decisions) {
    const term = document.createElement("dt");
    term.textContent = label;
    const detail = document.createElement("dd");
    if (Array.isArray(value)) {
      const items = document.createElement("ul");
      for (const part of value) {
        const item = document.createElement("li");
        item.textContent = part;
        items.append(item);
      }
      detail.append(items);
    } else {
      detail.textContent = value;
    }
    rows.push(term, detail);
  }
  $("decisions").replaceChildren(...rows);
  $("decisions-empty").hidden = decisions.size > 0;
}

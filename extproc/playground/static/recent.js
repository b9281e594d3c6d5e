/*
 * The "recent requests" view: the tenant's spend against its budget, and its recent requests.
 *
 *   GET /v1/gateway/limits    the key's tenant, budget and spend (extproc/endpoints/tenant_limits.py)
 *   GET /v1/gateway/requests  the key's tenant's recent requests, from the service's ring buffer:
 *     {"object": "list", "data": [ // newest first
 *       {"request_id": "…", "time": "2026-11-01T12:00:00.123Z" (ISO 8601, UTC),
 *        "model": "auto" (as asked), "served_model": "gpt-4o-mini" (or null), "status": 200,
 *        "prompt_tokens": 12, "completion_tokens": 34 (null when unknown),
 *        "cost_usd": 0.000135 (null when unpriced), "cache": "hit" | "miss" | "bypass" | "off",
 *        "route_reason": "…" (or null), "latency_ms": 412.5}
 *     ]}
 *     No prompt or answer text: the list says what happened, not what was said.
 */

import { $, formatUsd, showError } from "./page.js";
import { call, currentKey, errorText } from "./gateway.js";

/** Fill the view (both calls at once). */
export async function loadRecent() {
  if (!currentKey()) {
    showError("recent-error", "Enter your API key first.");
    return;
  }
  await Promise.all([loadLimits(), loadRequests()]);
}

async function loadLimits() {
  const response = await call("/v1/gateway/limits").catch(() => null);
  if (!response || !response.ok) {
    showError("limits-error", response ? await errorText(response) : "The gateway did not answer.");
    $("spend").replaceChildren();
    return;
  }
  showError("limits-error", "");
  const limits = await response.json();
  const budget = limits.budget || {};
  const spend = limits.spend_usd || {};
  $("spend").replaceChildren(
    spendBox("Today (UTC)", spend.day, budget.usd_per_day),
    spendBox("This month (UTC)", spend.month, budget.usd_per_month),
    textBox("Tenant", String(limits.tenant || "")),
    textBox("Held by requests in flight (USD)", formatUsd(Number(limits.reserved_usd || 0))),
  );
}

function spendBox(title, spent, budget) {
  const box = textBox(title, "");
  const used = Number(spent || 0);
  const line = box.querySelector("p");
  if (typeof budget === "number") {
    line.textContent = `${formatUsd(used)} of ${formatUsd(budget)} USD`;
    const meter = document.createElement("meter");
    meter.min = 0;
    meter.max = budget;
    meter.high = budget * 0.8;
    meter.value = Math.min(used, budget);
    meter.setAttribute("aria-label", `${title}: spend against budget`);
    box.append(meter);
  } else {
    line.textContent = `${formatUsd(used)} USD (no budget)`;
  }
  return box;
}

function textBox(title, text) {
  const box = document.createElement("div");
  box.className = "meter-box";
  const heading = document.createElement("strong");
  heading.textContent = title;
  const line = document.createElement("p");
  line.className = "hint";
  line.textContent = text;
  box.append(heading, line);
  return box;
}

async function loadRequests() {
  const response = await call("/v1/gateway/requests").catch(() => null);
  const table = $("recent-table");
  if (!response || !response.ok) {
    showError("recent-error", response ? await errorText(response) : "The gateway did not answer.");
    table.hidden = true;
    $("recent-empty").hidden = true;
    return;
  }
  showError("recent-error", "");
  const payload = await response.json();
  const rows = (payload.data || []).map(requestRow);
  $("recent-rows").replaceChildren(...rows);
  table.hidden = rows.length === 0;
  $("recent-empty").hidden = rows.length > 0;
}

function requestRow(entry) {
  const row = document.createElement("tr");
  const time = entry.time ? new Date(entry.time) : null;
  const known = time && !isNaN(time);
  const cells = [
    [known ? time.toLocaleTimeString() : "", false],
    [entry.request_id, false],
    [entry.model, false],
    [entry.served_model, false],
    [entry.status, true],
    [`${entry.prompt_tokens ?? "–"} / ${entry.completion_tokens ?? "–"}`, true],
    [typeof entry.cost_usd === "number" ? formatUsd(entry.cost_usd) : "–", true],
    [entry.cache, false],
    [entry.route_reason, false],
    [typeof entry.latency_ms === "number" ? Math.round(entry.latency_ms) : "", true],
  ];
  for (const [value, numeric] of cells) {
    const cell = document.createElement("td");
    cell.textContent = value === null || value === undefined ? "" : String(value);
    if (numeric) cell.className = "num";
    row.append(cell);
  }
  if (known) row.cells[0].title = time.toISOString();
  return row;
}

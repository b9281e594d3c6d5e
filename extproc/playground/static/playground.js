/*
 * llm-gateway playground: try the gateway from a browser, and see what it decided.
 *
 * Plain script, no build step, nothing from another origin; it runs under the strict
 * Content-Security-Policy the gateway sends with it (no inline script or style), and puts
 * model output on the page as text only (textContent, never innerHTML).
 *
 * The API key lives in this tab's sessionStorage and travels only in the Authorization
 * header of same-origin requests: never in a URL, never logged.
 *
 * Calls (all same-origin, all with the key):
 *   GET  /v1/models               model picker (OpenAI list), plus `auto`
 *   GET  /v1/gateway/prompts      prompt picker, shown only when it answers 200
 *   POST /v1/chat/completions     stream: true, stream_options.include_usage: true
 *   GET  /v1/gateway/limits       the tenant's budget and spend (extproc/endpoints/tenant_limits.py)
 *   GET  /v1/gateway/requests     the tenant's recent requests, from the service's ring buffer:
 *     {"object": "list", "data": [ // newest first
 *       {"request_id": "…", "time": "2026-11-01T12:00:00.123Z" (ISO 8601, UTC),
 *        "model": "auto" (as asked), "served_model": "gpt-4o-mini" (or null), "status": 200,
 *        "prompt_tokens": 12, "completion_tokens": 34 (null when unknown),
 *        "cost_usd": 0.000135 (null when unpriced), "cache": "hit" | "miss" | "bypass" | "off",
 *        "route_reason": "…" (or null), "latency_ms": 412.5}
 *     ]}
 *     No prompt or answer text: the list says what happened, not what was said.
 *
 * The decisions panel reads the response headers the gateway sets (x-gateway-*,
 * x-ratelimit-*, retry-after) and, for streams, the final usage chunk (`usage` and the
 * gateway's `x_gateway` figures: served_model, provider, cost_usd, usage_estimated).
 * What is absent is not shown.
 */
"use strict";

(() => {
  const KEY_STORAGE = "llm-gateway.playground.key";
  const $ = (id) => document.getElementById(id);

  // ---- the key ------------------------------------------------------------------------

  function currentKey() {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  }

  function setStatus(text) {
    $("key-status").textContent = text;
  }

  function saveKey(event) {
    event.preventDefault();
    const key = $("api-key").value.trim();
    $("api-key").value = "";
    if (!key) {
      setStatus("Enter a key first.");
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, key);
    setStatus("Key set for this tab.");
    loadPickers();
  }

  function forgetKey() {
    sessionStorage.removeItem(KEY_STORAGE);
    $("api-key").value = "";
    setStatus("Key forgotten.");
  }

  // ---- calling the gateway --------------------------------------------------------------

  function call(path, options = {}) {
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

  /** The message the gateway put in its error JSON (OpenAI, Anthropic or the seed API's shape). */
  async function errorText(response) {
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

  function showError(id, text) {
    const box = $(id);
    box.textContent = text;
    box.hidden = !text;
  }

  // ---- pickers ----------------------------------------------------------------------------

  async function loadPickers() {
    if (!currentKey()) return;
    await Promise.all([loadModels(), loadPrompts()]);
  }

  async function loadModels() {
    let response;
    try {
      response = await call("/v1/models");
    } catch (err) {
      setStatus("The gateway did not answer: " + err.message);
      return;
    }
    if (!response.ok) {
      setStatus(await errorText(response));
      return;
    }
    const payload = await response.json();
    const select = $("model");
    const chosen = select.value;
    const names = ["auto"];
    for (const entry of payload.data || []) {
      if (entry && typeof entry.id === "string" && !names.includes(entry.id)) names.push(entry.id);
    }
    select.replaceChildren(...names.map((name) => new Option(name, name)));
    select.value = names.includes(chosen) ? chosen : names.length > 1 ? names[1] : "auto";
    setStatus(`Key accepted: ${names.length - 1} models.`);
  }

  async function loadPrompts() {
    let response;
    try {
      response = await call("/v1/gateway/prompts");
    } catch (_) {
      response = null;
    }
    const field = $("prompt-field");
    if (!response || response.status !== 200) {
      field.hidden = true;
      $("variables-field").hidden = true;
      return;
    }
    const payload = await response.json();
    const options = [new Option("(none)", "")];
    for (const prompt of payload.data || []) {
      if (!prompt || typeof prompt.name !== "string" || prompt.shadowed) continue;
      const owner = prompt.tenant ? "" : " (global)";
      options.push(new Option(prompt.name + owner, prompt.name));
    }
    $("prompt").replaceChildren(...options);
    field.hidden = options.length === 1;
  }

  // ---- the conversation ---------------------------------------------------------------

  let history = [];
  let running = null;

  function addTurn(role, text) {
    const item = document.createElement("li");
    item.className = "turn " + role;
    const label = document.createElement("span");
    label.className = "role";
    label.textContent = role === "user" ? "You" : "Answer";
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    item.append(label, body);
    $("transcript").append(item);
    return item;
  }

  function requestBody(userText) {
    const messages = [];
    const system = $("system").value.trim();
    if (system) messages.push({ role: "system", content: system });
    messages.push(...history, { role: "user", content: userText });
    const body = {
      model: $("model").value || "auto",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    };
    const prompt = $("prompt").value;
    if (!$("prompt-field").hidden && prompt) {
      const variables = JSON.parse($("variables").value.trim() || "{}");
      if (variables === null || typeof variables !== "object" || Array.isArray(variables)) {
        throw new SyntaxError("prompt variables must be a JSON object");
      }
      body.prompt = { name: prompt, variables };
    }
    return body;
  }

  async function send(event) {
    event.preventDefault();
    if (running) return;
    showError("chat-error", "");
    if (!currentKey()) {
      showError("chat-error", "Enter your API key first.");
      return;
    }
    const userText = $("user").value;
    if (!userText.trim()) return;
    let body;
    try {
      body = requestBody(userText);
    } catch (err) {
      showError("chat-error", "Prompt variables: " + err.message);
      return;
    }
    const userTurn = addTurn("user", userText);
    const answerTurn = addTurn("assistant", "");
    answerTurn.classList.add("streaming");
    const answerText = answerTurn.querySelector(".text");
    const controller = new AbortController();
    running = controller;
    setBusy(true);
    resetDecisions();
    let failed = true;
    try {
      const response = await call("/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      decisionsFromHeaders(response.headers);
      if (!response.ok) {
        showError("chat-error", await errorText(response));
      } else if ((response.headers.get("content-type") || "").includes("text/event-stream")) {
        failed = !(await readStream(response, answerText));
      } else {
        failed = !readWhole(await response.json(), answerText);
      }
    } catch (err) {
      showError("chat-error", err.name === "AbortError" ? "Stopped." : "The gateway did not answer: " + err.message);
      failed = err.name !== "AbortError" || !answerText.textContent;
    } finally {
      answerTurn.classList.remove("streaming");
      running = null;
      setBusy(false);
    }
    if (failed) {
      userTurn.remove();
      answerTurn.remove();
      return;
    }
    history.push({ role: "user", content: userText }, { role: "assistant", content: answerText.textContent });
    $("user").value = "";
  }

  function setBusy(busy) {
    $("send").disabled = busy;
    $("stop").disabled = !busy;
  }

  /** Reads an SSE chat stream into `target`; true when it ended without an error event. */
  async function readStream(response, target) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
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
        if (data === "[DONE]") return true;
        if (!onChunk(JSON.parse(data), target)) {
          await reader.cancel();
          return false;
        }
      }
      if (done) return true;
    }
  }

  /** One stream chunk: text goes to `target`, usage to the decisions; false on an error event. */
  function onChunk(chunk, target) {
    if (chunk && chunk.error) {
      showError("chat-error", "The stream stopped: " + (chunk.error.message || JSON.stringify(chunk.error)));
      return false;
    }
    for (const choice of chunk.choices || []) {
      const text = choice && choice.delta && choice.delta.content;
      if (typeof text === "string") target.textContent += text;
    }
    if (chunk.usage) decisionsFromUsage(chunk.usage, chunk.x_gateway);
    return true;
  }

  function readWhole(payload, target) {
    const choice = (payload.choices || [])[0];
    const text = choice && choice.message && choice.message.content;
    target.textContent = typeof text === "string" ? text : "";
    if (payload.usage) decisionsFromUsage(payload.usage, payload.x_gateway);
    return true;
  }

  function resetConversation() {
    if (running) running.abort();
    history = [];
    $("transcript").replaceChildren();
    showError("chat-error", "");
    resetDecisions();
  }

  // ---- decisions ------------------------------------------------------------------------

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
    ["x-gateway-redactions", "Redactions"],
  ];
  const LIST_HEADERS = new Set(["x-gateway-attempts", "x-gateway-redactions"]);
  const KNOWN = new Set(HEADER_ROWS.map(([name]) => name));
  let decisions = new Map();

  function resetDecisions() {
    decisions = new Map();
    renderDecisions();
  }

  function decisionsFromHeaders(headers) {
    for (const [name, label] of HEADER_ROWS) {
      const value = headers.get(name);
      if (value === null || value === "") continue;
      if (name === "x-gateway-attempts") decisions.set(label, value.split(/,\s*/).map(attemptText));
      else decisions.set(label, LIST_HEADERS.has(name) ? value.split(/,\s*/) : value);
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
    // Gateway headers this page does not know yet (newer gateways) still show, by name.
    for (const [name, value] of headers) {
      if (name.startsWith("x-gateway-") && !KNOWN.has(name)) decisions.set(name, value);
    }
    renderDecisions();
  }

  /** `openai/gpt-4o-mini;status=503;ms=12` (extproc/attempts.py) as `openai/gpt-4o-mini: 503 in 12 ms`. */
  function attemptText(item) {
    const [where, ...fields] = item.split(";");
    const facts = Object.fromEntries(fields.map((f) => f.split("=", 2)));
    if (!facts.status) return item;
    if (facts.status === "none") return `${where}: no answer`;
    return facts.ms ? `${where}: ${facts.status} in ${facts.ms} ms` : `${where}: ${facts.status}`;
  }

  function decisionsFromUsage(usage, figures) {
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
    renderDecisions();
  }

  function setNumber(label, value) {
    if (typeof value === "number") decisions.set(label, String(value));
  }

  function renderDecisions() {
    const list = $("decisions");
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
    list.replaceChildren(...rows);
    $("decisions-empty").hidden = decisions.size > 0;
  }

  function formatUsd(value) {
    return value === 0 ? "0" : String(Number(value.toPrecision(6)));
  }

  // ---- recent requests and spend ----------------------------------------------------------

  async function loadRecent() {
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
    const cells = [
      [time && !isNaN(time) ? time.toLocaleTimeString() : "", false],
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
    if (time && !isNaN(time)) row.cells[0].title = time.toISOString();
    return row;
  }

  // ---- views ----------------------------------------------------------------------------

  const TABS = ["chat", "recent"];

  function showView(name) {
    for (const tab of TABS) {
      const selected = tab === name;
      const button = $("tab-" + tab);
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      $("view-" + tab).hidden = !selected;
    }
    if (name === "recent") loadRecent();
  }

  function onTabKey(event) {
    const index = TABS.indexOf(event.target.id.replace("tab-", ""));
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    const next = TABS[(index + step + TABS.length) % TABS.length];
    showView(next);
    $("tab-" + next).focus();
  }

  // ---- start ----------------------------------------------------------------------------

  function start() {
    $("key-form").addEventListener("submit", saveKey);
    $("key-forget").addEventListener("click", forgetKey);
    $("chat-form").addEventListener("submit", send);
    $("stop").addEventListener("click", () => running && running.abort());
    $("reset").addEventListener("click", resetConversation);
    $("refresh").addEventListener("click", loadRecent);
    $("prompt").addEventListener("change", () => {
      $("variables-field").hidden = !$("prompt").value;
    });
    for (const tab of TABS) {
      $("tab-" + tab).addEventListener("click", () => showView(tab));
      $("tab-" + tab).addEventListener("keydown", onTabKey);
    }
    $("user").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("chat-form").requestSubmit();
    });
    if (currentKey()) {
      setStatus("Using the key set earlier in this tab.");
      loadPickers();
    }
  }

  start();
})();

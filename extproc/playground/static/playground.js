/*
 * llm-gateway playground: try the gateway from a browser, and see what it decided.
 *
 * Plain ES modules, no build step, nothing from another origin; the page runs under the
 * strict Content-Security-Policy the gateway sends with it (no inline script or style).
 *
 *   page.js       shared helpers
 *   gateway.js    calls with the key (sessionStorage only), error messages, SSE parsing
 *   chat.js       the conversation and the streamed answer
 *   decisions.js  the decisions panel, from the response headers and the usage chunk
 *   recent.js     spend against budget, and recent requests (GET /v1/gateway/requests)
 *
 * This module wires them: the key form, the model and prompt pickers, the two views.
 *   GET /v1/models           model picker (OpenAI list), plus `auto`
 *   GET /v1/gateway/prompts  prompt picker, shown only when it answers 200
 */

import { $ } from "./page.js";
import { call, currentKey, errorText, forgetKey, rememberKey } from "./gateway.js";
import { resetConversation, send, stop } from "./chat.js";
import { loadRecent } from "./recent.js";

const TABS = ["chat", "recent"];

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
  rememberKey(key);
  setStatus("Key set for this tab.");
  loadPickers();
}

function dropKey() {
  forgetKey();
  $("api-key").value = "";
  setStatus("Key forgotten.");
}

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
  select.value = names.includes(chosen) ? chosen : "auto";
  setStatus(`Key accepted: ${names.length - 1} models.`);
}

async function loadPrompts() {
  const response = await call("/v1/gateway/prompts").catch(() => null);
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

$("key-form").addEventListener("submit", saveKey);
$("key-forget").addEventListener("click", dropKey);
$("chat-form").addEventListener("submit", send);
$("stop").addEventListener("click", stop);
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

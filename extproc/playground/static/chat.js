/*
 * The conversation: a system message, the turns so far, and the answer streaming in.
 *
 * Sends POST /v1/chat/completions with stream: true and stream_options.include_usage, and
 * puts the model's text on the page as text only (textContent, never as HTML).
 */

import { $, showError } from "./page.js";
import { call, currentKey, errorText, sseEvents } from "./gateway.js";
import { decisionsFromHeaders, decisionsFromUsage, resetDecisions } from "./decisions.js";

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

/** The composer's submit: send the message, stream the answer, keep both for the next turn. */
export async function send(event) {
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
  running = new AbortController();
  setBusy(true);
  resetDecisions();
  let failed = true;
  try {
    const response = await call("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal: running.signal,
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
    const stopped = err.name === "AbortError";
    showError("chat-error", stopped ? "Stopped." : "The gateway did not answer: " + err.message);
    failed = !stopped || !answerText.textContent;
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

export function stop() {
  if (running) running.abort();
}

/** Forget the turns so far. */
export function resetConversation() {
  stop();
  history = [];
  $("transcript").replaceChildren();
  showError("chat-error", "");
  resetDecisions();
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
}

/** The stream's text into `target` as it comes; false when the gateway sent an error event. */
async function readStream(response, target) {
  for await (const chunk of sseEvents(response)) {
    if (chunk && chunk.error) {
      showError("chat-error", "The stream stopped: " + (chunk.error.message || JSON.stringify(chunk.error)));
      return false;
    }
    for (const choice of chunk.choices || []) {
      const text = choice && choice.delta && choice.delta.content;
      if (typeof text === "string") target.textContent += text;
    }
    if (chunk.usage) decisionsFromUsage(chunk.usage, chunk.x_gateway);
  }
  return true;
}

/** A buffered answer (a gateway that did not stream this one). */
function readWhole(payload, target) {
  const choice = (payload.choices || [])[0];
  const text = choice && choice.message && choice.message.content;
  target.textContent = typeof text === "string" ? text : "";
  if (payload.usage) decisionsFromUsage(payload.usage, payload.x_gateway);
  return true;
}

/* Small helpers every part of the playground shares. */

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** Show `text` in an alert box (hidden when empty). */
export function showError(id, text) {
  const box = $(id);
  box.textContent = text;
  box.hidden = !text;
}

/** A price without float noise: 0.0000075, 0.0123, 1. */
export function formatUsd(value) {
  return value === 0 ? "0" : String(Number(value.toPrecision(6)));
}

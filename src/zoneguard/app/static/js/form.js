// The signal form: reads the fields as exact decimal text, sends POST /api/signals, and
// shows the server's per-field errors next to the fields they name.

import { ApiError, api } from "./api.js";
import { parseDecimal, toNumber } from "./decimal.js";
import { byId, el, shortId } from "./dom.js";

const DECIMAL_FIELDS = ["entry_zone_min", "entry_zone_max", "quantity", "stop_loss", "take_profit"];
const INTEGER_FIELDS = ["leverage", "timeout_seconds"];
const REQUIRED = new Set(["symbol", "entry_zone_min", "entry_zone_max", "quantity"]);

function clearErrors(form) {
  for (const note of form.querySelectorAll(".field-error")) note.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

function showFieldError(form, field, message) {
  const input = form.elements.namedItem(field);
  if (!input || !(input instanceof HTMLInputElement)) return false;
  input.setAttribute("aria-invalid", "true");
  input.closest(".field")?.append(el("span", { class: "field-error", "data-field": field }, message));
  return true;
}

/** The payload, or {errors} found before asking the server. */
function readSignal(form) {
  const data = new FormData(form);
  const text = (name) => String(data.get(name) ?? "").trim();
  const errors = [];
  const signal = { symbol: text("symbol").toUpperCase(), side: text("side") || "long" };
  if (!signal.symbol) errors.push(["symbol", "is required"]);
  for (const name of DECIMAL_FIELDS) {
    const value = text(name).replaceAll(",", "");
    if (!value) {
      if (REQUIRED.has(name)) errors.push([name, "is required"]);
      continue;
    }
    if (parseDecimal(value) === null || !/^\d*\.?\d+$|^\d+\.$/.test(value)) errors.push([name, "must be a positive number"]);
    else signal[name] = value; // decimal text: exact, no float rounding on the way
  }
  for (const name of INTEGER_FIELDS) {
    const value = text(name);
    if (!value) continue;
    if (!/^\d+$/.test(value)) errors.push([name, "must be a whole number"]);
    else signal[name] = Number(value);
  }
  const strategy = text("strategy");
  signal.metadata = strategy ? { source: "dashboard", strategy } : { source: "dashboard" };
  return { signal, errors };
}

function updateRisk(form) {
  const { signal } = readSignal(form);
  const low = toNumber(signal.entry_zone_min);
  const high = toNumber(signal.entry_zone_max);
  const sl = toNumber(signal.stop_loss);
  const tp = toNumber(signal.take_profit);
  const qty = toNumber(signal.quantity);
  const box = byId("risk");
  if ([low, high, sl, tp, qty].some((v) => v === null) || low > high) {
    box.replaceChildren();
    return;
  }
  const mid = (low + high) / 2;
  const risk = Math.abs(mid - sl) * qty;
  const reward = Math.abs(tp - mid) * qty;
  const money = (v) => v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  box.replaceChildren(
    "risk ", el("b", {}, money(risk)), " · reward ", el("b", {}, money(reward)), " USDT · R:R ",
    el("b", {}, risk > 0 ? (reward / risk).toFixed(2) : "–"),
  );
}

function newKey() {
  if (globalThis.crypto?.randomUUID) return `dash-${crypto.randomUUID()}`;
  return `dash-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

/** Wire the form; ``onSent(id)`` runs with the new order's id. */
export function setupSignalForm(onSent) {
  const form = byId("signal-form");
  const result = byId("form-result");
  const button = byId("f-submit");
  form.addEventListener("input", () => updateRisk(form));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    result.className = "form-result field-wide";
    result.textContent = "";
    const { signal, errors } = readSignal(form);
    if (errors.length) {
      for (const [field, message] of errors) showFieldError(form, field, message);
      result.classList.add("err");
      result.textContent = "Check the highlighted fields.";
      return;
    }
    button.disabled = true;
    // The same key for a retry of the same fields after a lost answer (the app then returns
    // the order it already made); a fresh one after a success, so a deliberate repeat is new.
    const fingerprint = JSON.stringify(signal);
    if (form.dataset.fingerprint !== fingerprint) {
      form.dataset.fingerprint = fingerprint;
      form.dataset.key = newKey();
    }
    try {
      const answer = await api.sendSignal(signal, form.dataset.key);
      const id = String(answer?.id ?? answer?.order_id ?? "");
      delete form.dataset.fingerprint;
      delete form.dataset.key;
      result.classList.add("ok");
      result.textContent = `Signal accepted: ${shortId(id)}`;
      result.title = id;
      result.dataset.orderId = id;
      onSent(id, signal);
    } catch (error) {
      result.classList.add("err");
      if (error instanceof ApiError) {
        const unplaced = error.fields.filter((f) => !showFieldError(form, f.field, f.message));
        result.textContent = unplaced.length || !error.fields.length ? error.message : "Rejected: see the fields.";
      } else {
        result.textContent = `Not sent: ${error.message}`;
      }
    } finally {
      button.disabled = false;
    }
  });
  updateRisk(form);
}

// The dashboard's view of the app's JSON. The API grows independently of this page, so
// every field is read through one place that tolerates the names it may carry.

// The app's order statuses (rules.py): queued -> submitted -> placed -> filled -> closed,
// or timeout / failed / cancelled; close_failed while a close is retried; monitoring for a
// position opened elsewhere. The worker's finer states are understood too.
const TERMINAL = new Set(["closed", "timeout", "failed", "cancelled", "rejected"]);
const WORKING = new Set([
  "queued", "submitted", "placed", "pending", "new", "received", "sent", "accepted",
  "waiting_zone", "placing",
]);
const POSITION_HELD = new Set(["filled", "monitoring", "close_failed", "open", "partially_filled", "closing"]);

function pick(obj, ...names) {
  if (!obj || typeof obj !== "object") return null;
  for (const name of names) {
    const value = obj[name];
    if (value !== undefined && value !== null && value !== "") return value;
  }
  return null;
}

/** Milliseconds since the epoch from ISO text or epoch seconds/milliseconds; null if absent. */
export function toMillis(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return value < 1e12 ? value * 1000 : value;
  if (/^\d+(\.\d+)?$/.test(String(value))) return toMillis(Number(value));
  const text = String(value);
  // A naive ISO time (no zone) from the server is UTC.
  const zoned = /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? null : ms;
}

export function isTerminal(state) {
  return TERMINAL.has(state);
}

export function isWorking(state) {
  return WORKING.has(state);
}

export function holdsPosition(state) {
  return POSITION_HELD.has(state);
}

function normaliseTransition(raw) {
  return {
    from: pick(raw, "from_state", "from_status", "from"),
    to: String(pick(raw, "to_state", "to_status", "to", "status", "state") ?? ""),
    at: toMillis(pick(raw, "at_ms", "at", "created_at", "timestamp", "time")),
    event: pick(raw, "event"),
    applied: pick(raw, "applied") !== false,
    reason: pick(raw, "reason", "note", "detail", "error"),
  };
}

/** A take-profit rung that closed part of a position: when, at what price, which rung. */
function partialExit(raw) {
  const data = pick(raw, "data") ?? {};
  return {
    at: toMillis(pick(raw, "at_ms", "at")),
    price: pick(data, "close_price"),
    index: pick(data, "take_profit_index"),
  };
}

/** One entry zone's fill (several entry zones): when, at what price, which zone. */
function zoneFill(raw) {
  const data = pick(raw, "data") ?? {};
  return {
    at: toMillis(pick(raw, "at_ms", "at")),
    price: pick(data, "zone_entry_price", "entry_price"),
    index: pick(data, "entry_index"),
  };
}

function isZoneFill(raw) {
  return raw?.event === "filled" && Number.isInteger(raw?.data?.entry_index);
}

/** The row's change counter (the app bumps it on every change); -1 when not sent. */
function versionOf(row) {
  const version = Number(pick(row, "version"));
  return Number.isFinite(version) ? version : -1;
}

/**
 * The newer of two readings of the same row: a list answer that left the server before
 * an event arrived must not put an older state back on screen.
 */
export function newer(known, fresh) {
  if (!known) return fresh;
  if (fresh.version >= 0 && known.version > fresh.version) return known;
  return {
    ...known,
    ...fresh,
    transitions: fresh.transitions?.length ? fresh.transitions : known.transitions,
    // A list answer carries no legs' progress: keep the detail's until the next one.
    exitProgress: fresh.exitProgress ?? known.exitProgress ?? null,
    partialExits: fresh.partialExits?.length ? fresh.partialExits : known.partialExits ?? [],
    entryProgress: fresh.entryProgress ?? known.entryProgress ?? null,
    zoneFills: fresh.zoneFills?.length ? fresh.zoneFills : known.zoneFills ?? [],
  };
}

/** One order lifecycle (a signal and what became of it). */
export function normaliseOrder(raw) {
  const order = pick(raw, "order", "lifecycle") ?? raw;
  const transitions = pick(raw, "transitions") ?? pick(order, "transitions") ?? [];
  return {
    id: String(pick(order, "id", "order_id")),
    symbol: pick(order, "symbol") ?? "",
    side: String(pick(order, "side") ?? "").toLowerCase(),
    state: String(pick(order, "status", "state") ?? "pending").toLowerCase(),
    zoneMin: pick(order, "entry_zone_min", "zone_min"),
    zoneMax: pick(order, "entry_zone_max", "zone_max"),
    entryZones: Array.isArray(pick(order, "entry_zones")) ? order.entry_zones : [],
    entryProgress: pick(raw, "entry_progress") ?? pick(order, "entry_progress"),
    zoneFills: Array.isArray(transitions) ? transitions.filter(isZoneFill).map(zoneFill) : [],
    quantity: pick(order, "quantity", "qty"),
    leverage: pick(order, "leverage"),
    stopLoss: pick(order, "stop_loss"),
    takeProfit: pick(order, "take_profit"),
    takeProfits: Array.isArray(pick(order, "take_profits")) ? order.take_profits : [],
    exitProgress: pick(raw, "exit_progress") ?? pick(order, "exit_progress"),
    partialExits: Array.isArray(transitions) ? transitions.filter((t) => t?.event === "partially_closed").map(partialExit) : [],
    entryPrice: pick(order, "entry_price", "fill_price", "avg_entry_price"),
    limitPrice: pick(order, "limit_price", "order_price", "placed_price"),
    closePrice: pick(order, "close_price", "exit_price"),
    realizedPnl: pick(order, "realized_pnl", "realised_pnl", "pnl"),
    reason: pick(order, "reason", "close_reason"),
    error: pick(order, "error", "error_message", "last_error"),
    exchangeOrderId: pick(order, "exchange_order_id"),
    createdAt: toMillis(pick(order, "created_ms", "created_at", "created", "received_at")),
    updatedAt: toMillis(pick(order, "updated_ms", "updated_at", "updated", "changed_at")),
    transitions: Array.isArray(transitions) ? transitions.map(normaliseTransition).filter((t) => t.applied) : [],
    version: versionOf(order),
  };
}

/** One position (opened by an order's fill). */
export function normalisePosition(raw) {
  const position = pick(raw, "position") ?? raw;
  const closedAt = toMillis(pick(position, "closed_ms", "closed_at", "exit_at"));
  const stated = pick(position, "status", "state");
  return {
    id: String(pick(position, "order_id", "position_id", "id")),
    symbol: pick(position, "symbol") ?? "",
    side: String(pick(position, "side") ?? "").toLowerCase(),
    state: String(stated ?? (closedAt ? "closed" : "open")).toLowerCase(),
    quantity: pick(position, "quantity", "size", "qty"),
    entryPrice: pick(position, "entry_price", "avg_entry_price"),
    exitPrice: pick(position, "exit_price", "close_price"),
    stopLoss: pick(position, "stop_loss"),
    takeProfit: pick(position, "take_profit"),
    realizedPnl: pick(position, "realized_pnl", "realised_pnl", "pnl"),
    fees: pick(position, "fees", "fee"),
    error: pick(position, "error"),
    reason: pick(position, "reason", "close_reason", "exit_reason"),
    openedAt: toMillis(pick(position, "opened_ms", "opened_at", "created_at", "entry_at")),
    closedAt,
    version: versionOf(position),
  };
}

/** A list answer may be a bare array or wrapped ({"orders": [...]}, {"items": [...]}). */
export function listOf(body, ...keys) {
  if (Array.isArray(body)) return body;
  for (const key of [...keys, "items", "data", "results"]) {
    if (body && Array.isArray(body[key])) return body[key];
  }
  return [];
}

/**
 * An SSE event's entity: {kind: "order"|"position"|null, raw}. The kind comes from the
 * event name or a "type"/"kind" field; the entity may be the data itself or nested.
 */
export function classifyEvent(eventName, data) {
  const label = `${eventName ?? ""} ${pick(data, "type", "kind", "event", "entity") ?? ""}`.toLowerCase();
  if (data && typeof data === "object") {
    if (data.position && typeof data.position === "object") return { kind: "position", raw: data.position };
    if (data.order && typeof data.order === "object") return { kind: "order", raw: data.order };
    const inner = pick(data, "data", "payload", "object");
    const body = inner && typeof inner === "object" ? inner : data;
    if (label.includes("position")) return { kind: "position", raw: body };
    if (label.includes("order") || label.includes("lifecycle")) return { kind: "order", raw: body };
  }
  return { kind: null, raw: data };
}

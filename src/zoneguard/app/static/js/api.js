// HTTP and Server-Sent Events to the app (same origin, no external calls).

export class ApiError extends Error {
  constructor(status, body) {
    super(describeError(status, body));
    this.status = status;
    this.body = body;
    this.fields = fieldErrors(body);
  }
}

/** [{field, message}] from the shapes our servers answer 4xx with. */
function fieldErrors(body) {
  if (!body || typeof body !== "object") return [];
  if (Array.isArray(body.fields)) {
    return body.fields.map((f) => ({ field: String(f.field ?? f.name ?? ""), message: String(f.message ?? f.msg ?? "") }));
  }
  const detail = body.detail ?? body.errors;
  if (Array.isArray(detail)) {
    return detail.map((d) => {
      const loc = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body" && p !== "query") : [d.field];
      return { field: String(loc.join(".") || d.field || ""), message: String(d.msg ?? d.message ?? "") };
    });
  }
  return [];
}

function describeError(status, body) {
  if (body && typeof body === "object") {
    const fields = fieldErrors(body);
    if (fields.length) return fields.map((f) => (f.field ? `${f.field}: ${f.message}` : f.message)).join("; ");
    const text = body.error ?? body.message ?? body.detail;
    if (text) return String(typeof text === "string" ? text : JSON.stringify(text));
  }
  return `HTTP ${status}`;
}

async function request(method, path, body, headers = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** The most the app lists at once; the realised PnL is summed over these positions. */
export const POSITIONS_LIMIT = 1000;

export const api = {
  orders: (limit = 200) => request("GET", `/api/orders?limit=${limit}`),
  order: (id) => request("GET", `/api/orders/${encodeURIComponent(id)}`),
  positions: (limit = POSITIONS_LIMIT) => request("GET", `/api/positions?limit=${limit}`),
  /** ``key`` makes a retried POST of the same signal return the same order, not a second one. */
  sendSignal: (signal, key) => request("POST", "/api/signals", signal, { "Idempotency-Key": key }),
  klines: (symbol, tf = "1m", limit = 120) =>
    request("GET", `/api/market/${encodeURIComponent(symbol)}/klines?tf=${tf}&limit=${limit}`),
};

const EVENT_NAMES = [
  "order", "order_updated", "order.updated", "order_created", "order.created",
  "position", "position_updated", "position.updated", "position_opened", "position_closed",
  "lifecycle", "update",
];

/**
 * Follow ``/api/events``. ``onEvent(name, data)`` for every event (JSON-decoded when it is
 * JSON); ``onState("live"|"connecting"|"down")`` as the stream opens and drops. EventSource
 * reconnects by itself; ``onState("live")`` after a drop tells the page to re-read lists,
 * since events sent while it was away are lost.
 */
export function followEvents(onEvent, onState) {
  const source = new EventSource("/api/events");
  const deliver = (name) => (message) => {
    let data = message.data;
    try {
      data = JSON.parse(message.data);
    } catch {
      /* plain text event */
    }
    onEvent(name, data);
  };
  source.addEventListener("message", deliver("message"));
  for (const name of EVENT_NAMES) source.addEventListener(name, deliver(name));
  source.addEventListener("open", () => onState("live"));
  source.addEventListener("error", () => onState(source.readyState === EventSource.CLOSED ? "down" : "connecting"));
  return source;
}

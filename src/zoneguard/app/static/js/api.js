// HTTP and Server-Sent Events to the app (same origin, no external calls). When the app
// has a token (ZONEGUARD_API_TOKEN), every call carries it as a bearer header, the event
// stream too: it is read with fetch, since EventSource cannot send headers, so the token
// never appears in a URL.

const TOKEN_KEY = "zoneguard.token";

/** The token this tab was given (kept for the tab's life only), or "". */
export function currentToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage refused (private mode): the token lives until the page is closed */
  }
  memoryToken = token;
}

let memoryToken = "";
let onUnauthorised = () => {};

/** ``handler(hadToken)`` runs whenever the app answers 401: the page asks for the token. */
export function whenUnauthorised(handler) {
  onUnauthorised = handler;
}

function authHeaders(headers = {}) {
  const token = currentToken() || memoryToken;
  return token ? { ...headers, Authorization: `Bearer ${token}` } : headers;
}

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
  const init = { method, headers: authHeaders({ Accept: "application/json", ...headers }) };
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
  if (response.status === 401) onUnauthorised(Boolean(currentToken() || memoryToken));
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

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 15000;

/**
 * Follow ``/api/events``. ``onEvent(name, data)`` for every event (JSON-decoded when it is
 * JSON); ``onState("live"|"connecting"|"down")`` as the stream opens and drops. A dropped
 * stream is opened again with a growing pause; ``onState("live")`` after a drop tells the
 * page to re-read lists, since events sent while it was away are lost. A 401 ends the
 * stream ("down") until the page calls ``follow`` again with a token.
 */
export function followEvents(onEvent, onState) {
  let stopped = false;
  let controller = null;
  const deliver = (name, text) => {
    if (name !== "message" && !EVENT_NAMES.includes(name)) return;
    let data = text;
    try {
      data = JSON.parse(text);
    } catch {
      /* plain text event */
    }
    onEvent(name, data);
  };
  const run = async () => {
    let pause = RETRY_FIRST_MS;
    while (!stopped) {
      controller = new AbortController();
      try {
        const response = await fetch("/api/events", {
          headers: authHeaders({ Accept: "text/event-stream" }),
          cache: "no-store",
          signal: controller.signal,
        });
        if (response.status === 401) {
          onState("down");
          onUnauthorised(Boolean(currentToken() || memoryToken));
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        onState("live");
        pause = RETRY_FIRST_MS;
        await readEvents(response.body, deliver);
      } catch {
        /* dropped or refused: try again below */
      }
      if (stopped) return;
      onState("connecting");
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, RETRY_MAX_MS);
    }
  };
  run();
  return {
    close() {
      stopped = true;
      controller?.abort();
    },
  };
}

/** Server-Sent Events framing: ``event:``/``data:`` lines, a blank line ends one event. */
export async function readEvents(body, deliver) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let name = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split("\n");
    buffer = lines.pop();
    for (const raw of lines) {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line === "") {
        if (data.length) deliver(name, data.join("\n"));
        name = "message";
        data = [];
      } else if (line.startsWith(":")) {
        /* keep-alive comment */
      } else {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = text || "message";
        else if (field === "data") data.push(text);
      }
    }
  }
}

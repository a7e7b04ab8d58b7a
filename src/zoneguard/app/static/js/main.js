// The dashboard: loads orders and positions once, then follows /api/events (SSE) and
// patches the page in place. No reloads; after a dropped stream it re-reads the lists,
// because events sent while it was away are gone.

import { POSITIONS_LIMIT, api, currentToken, followEvents, setToken, whenUnauthorised } from "./api.js";
import { drawChart } from "./chart.js";
import { formatMoney, formatQty, signOf, sumDecimals } from "./decimal.js";
import { badge, byId, clock, el, shortId, sideTag, stateLabel } from "./dom.js";
import { setupSignalForm } from "./form.js";
import {
  classifyEvent, holdsPosition, isWorking, listOf, newer, normaliseOrder, normalisePosition,
} from "./model.js";
import { renderOrders, renderPositions } from "./tables.js";

const CHART_REFRESH_MS = 2000;
const BARS_RETRY_MS = 15000;
const FALLBACK_POLL_MS = 10000;
const CONSISTENCY_RELOAD_MS = 60000;
const FEED_LIMIT = 80;

const store = {
  orders: new Map(),
  positions: new Map(),
  details: new Map(), // order id -> transitions from GET /api/orders/{id}
  bars: [],
  barsSymbol: null,
  selectedId: null,
  pinned: false, // the user chose a row: stop following the newest position
  connection: "connecting",
};

/* ---------------- selection and chart ---------------- */

/**
 * Keep the chart on what the trader is watching: the current selection stays until it is
 * gone; with none, the newest held position, else the newest working order, else the newest.
 * (A position that opens, or a signal just sent, takes the chart unless a row was clicked.)
 */
function autoSelect() {
  if (store.selectedId && (store.orders.has(store.selectedId) || store.positions.has(store.selectedId))) return;
  const orders = [...store.orders.values()].sort((a, b) => (b.createdAt ?? 0) - (a.createdAt ?? 0));
  const choice =
    orders.find((o) => holdsPosition(o.state)) ??
    orders.find((o) => isWorking(o.state)) ??
    orders[0];
  const id = choice?.id ?? [...store.positions.keys()][0] ?? null;
  if (id !== store.selectedId) follow(id);
}

function follow(id) {
  store.selectedId = id;
  if (id) refreshDetail(id);
  refreshBars();
}

function select(id) {
  store.selectedId = id;
  store.pinned = true;
  refreshDetail(id);
  refreshBars();
  render();
}

function transitionTime(transitions, states) {
  const hit = transitions.find((t) => states.includes(t.to));
  return hit?.at ?? null;
}

function renderChart() {
  const id = store.selectedId;
  const order = id ? store.orders.get(id) : null;
  const position = id ? store.positions.get(id) : null;
  const caption = byId("chart-caption");
  const container = byId("chart");
  if (!order && !position) {
    caption.replaceChildren(el("span", { class: "muted" }, "Select an order or position"));
    drawChart(container, { message: "No order selected" });
    return;
  }
  const symbol = order?.symbol || position?.symbol;
  const side = order?.side || position?.side;
  const state = position?.state ?? order?.state;
  caption.replaceChildren(
    el("b", {}, symbol), sideTag(side),
    order?.leverage ? el("span", { class: "muted" }, `${order.leverage}×`) : null,
    el("span", { class: "muted num" }, `qty ${formatQty(position?.quantity ?? order?.quantity)}`),
    el("span", { class: "num", "data-testid": "chart-order", "data-order-id": id, title: id }, shortId(id)), badge(state),
  );
  const transitions = store.details.get(id) ?? order?.transitions ?? [];
  const bars = store.barsSymbol === symbol ? store.bars : [];
  const last = bars.length ? bars[bars.length - 1].c : null;
  const entry = position?.entryPrice ?? order?.entryPrice;
  const exit = position?.exitPrice ?? order?.closePrice;
  const progress = order?.exitProgress;
  const ladder = (progress?.take_profits ?? order?.takeProfits ?? [])
    .map((r, i) => ({ index: r.index ?? i + 1, price: r.price, state: r.state ?? "waiting" }));
  const zones = (order?.entryProgress?.zones ?? order?.entryZones ?? [])
    .map((z, i) => ({ index: z.index ?? i + 1, min: z.min, max: z.max, share: z.size_percent, state: z.state ?? "waiting" }));
  const svg = drawChart(container, {
    bars,
    ladder,
    stopReason: progress?.stop_reason ?? null,
    partials: order?.partialExits ?? [],
    zones,
    zoneFills: order?.zoneFills ?? [],
    levels: {
      zoneMin: order?.zoneMin, zoneMax: order?.zoneMax,
      stopLoss: progress?.stop_loss ?? order?.stopLoss ?? position?.stopLoss,
      takeProfit: order?.takeProfit ?? position?.takeProfit,
      entry, exit: state === "closed" ? exit : null, last: state === "closed" ? null : last,
    },
    marks: {
      entryAt: position?.openedAt ?? transitionTime(transitions, ["open", "filled", "partially_filled"]),
      exitAt: position?.closedAt ?? transitionTime(transitions, ["closed"]),
    },
  });
  svg.dataset.orderId = id;
  svg.dataset.symbol = symbol;
  renderTimeline(transitions);
}

/** The selected order's lifecycle: one chip per state it entered, with the time. */
function renderTimeline(transitions) {
  const steps = transitions.filter((t, i) => t.to && (i === 0 || t.to !== transitions[i - 1].to));
  const items = steps.map((t) =>
    el("li", { "data-state": t.to, title: t.event && t.event !== t.to ? `${t.event}${t.reason ? `: ${t.reason}` : ""}` : t.reason },
      el("time", {}, clock(t.at)), badge(t.to)));
  byId("timeline").replaceChildren(...items);
}

async function refreshDetail(id) {
  try {
    const answer = await api.order(id);
    const detail = normaliseOrder(answer);
    if (answer?.position && typeof answer.position === "object") {
      const position = normalisePosition(answer.position);
      store.positions.set(position.id, newer(store.positions.get(position.id), position));
    }
    if (detail.transitions.length) store.details.set(id, detail.transitions);
    if (detail.id === id) store.orders.set(id, newer(store.orders.get(id), detail));
    if (store.selectedId === id) render();
  } catch {
    /* the list data is enough to draw; the timeline fills in on the next event */
  }
}

let barsInFlight = false;
let barsRetryAt = 0; // after a failure (worker down), ask again less often

async function refreshBars({ scheduled = false } = {}) {
  const id = store.selectedId;
  const symbol = store.orders.get(id)?.symbol || store.positions.get(id)?.symbol;
  if (!symbol || barsInFlight || (scheduled && Date.now() < barsRetryAt)) return;
  barsInFlight = true;
  try {
    const answer = await api.klines(symbol, "1m", 90);
    store.bars = Array.isArray(answer?.bars) ? answer.bars : [];
    store.barsSymbol = symbol;
    barsRetryAt = 0;
  } catch {
    if (store.barsSymbol !== symbol) store.bars = [];
    store.barsSymbol = symbol; // no price feed: draw the levels alone
    barsRetryAt = Date.now() + BARS_RETRY_MS;
  } finally {
    barsInFlight = false;
  }
  renderChart();
}

/* ---------------- header, feed ---------------- */

function renderKpis() {
  const positions = [...store.positions.values()];
  const closed = positions.filter((p) => p.state === "closed");
  const pnl = sumDecimals(positions.map((p) => p.realizedPnl));
  const pnlBox = byId("kpi-pnl");
  pnlBox.textContent = formatMoney(pnl);
  pnlBox.dataset.value = pnl;
  pnlBox.className = `num ${signOf(pnl) > 0 ? "pos" : signOf(pnl) < 0 ? "neg" : ""}`;
  pnlBox.title = positions.length >= POSITIONS_LIMIT
    ? `sum over the latest ${POSITIONS_LIMIT} positions`
    : `sum over ${closed.length} closed position(s)`;
  const held = new Set([
    ...positions.filter((p) => p.state !== "closed").map((p) => p.id),
    ...[...store.orders.values()].filter((o) => holdsPosition(o.state)).map((o) => o.id),
  ]);
  byId("kpi-open").textContent = String(held.size);
  byId("kpi-working").textContent = String([...store.orders.values()].filter((o) => isWorking(o.state)).length);
  const wins = closed.filter((p) => signOf(p.realizedPnl) > 0).length;
  const losses = closed.filter((p) => signOf(p.realizedPnl) < 0).length;
  byId("kpi-winloss").textContent = `${closed.length} · ${wins} / ${losses}`;
}

function feed(text, detail = null) {
  const list = byId("feed");
  list.querySelector(".feed-empty")?.remove();
  list.prepend(el("li", {}, el("time", {}, clock(Date.now())), el("span", { class: "feed-text" }, ...text, detail ? ` ${detail}` : "")));
  while (list.children.length > FEED_LIMIT) list.lastChild.remove();
}

function setConnection(state) {
  const box = byId("conn");
  box.dataset.state = state;
  box.querySelector(".conn-text").textContent = { live: "live", connecting: "reconnecting", down: "offline" }[state];
}

/* ---------------- the app's token ---------------- */

let events = null;

/** The app answered 401: ask for its token (again, saying so, when one was refused). */
function askForToken(hadToken) {
  const dialog = byId("token-dialog");
  byId("token-error").textContent = hadToken ? "The app refused this token. Check ZONEGUARD_API_TOKEN." : "";
  if (!dialog.open) {
    const input = byId("token-input");
    input.value = currentToken();
    dialog.showModal();
    input.focus();
    input.select();
  }
}

function setupTokenDialog() {
  const dialog = byId("token-dialog");
  dialog.addEventListener("cancel", (event) => event.preventDefault()); // nothing works without it
  byId("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = byId("token-input").value.trim();
    if (!token) {
      byId("token-error").textContent = "Enter the token.";
      return;
    }
    setToken(token);
    dialog.close();
    startEvents();
    loadAll();
  });
  whenUnauthorised(askForToken);
}

function startEvents() {
  events?.close();
  events = followEvents(onEvent, (state) => {
    const wasDown = store.connection !== "live";
    store.connection = state;
    setConnection(state);
    if (state === "live" && wasDown) loadAll();
  });
}

/* ---------------- data ---------------- */

function render() {
  autoSelect();
  renderOrders(store.orders.values(), store.selectedId);
  renderPositions(store.positions.values(), store.orders, store.selectedId);
  renderKpis();
  renderChart();
}

/**
 * The listed rows, each kept at the newest version this page has seen. Rows the answer
 * lacks stay: the app never deletes one, so a missing row is one that arrived by event
 * after the list was read (or is older than the list's limit).
 */
function mergeList(known, rows) {
  const merged = new Map(known);
  for (const row of rows) merged.set(row.id, newer(known.get(row.id), row));
  return merged;
}

async function loadAll() {
  const [orders, positions] = await Promise.allSettled([api.orders(), api.positions()]);
  if (orders.status === "fulfilled") {
    store.orders = mergeList(store.orders, listOf(orders.value, "orders").map(normaliseOrder));
  }
  if (positions.status === "fulfilled") {
    store.positions = mergeList(store.positions, listOf(positions.value, "positions").map(normalisePosition));
  }
  render();
}

function onEvent(name, data) {
  const { kind, raw } = classifyEvent(name, data);
  if (kind === "order") {
    const before = store.orders.get(String(raw?.id ?? raw?.order_id));
    const order = newer(before, normaliseOrder(raw));
    store.orders.set(order.id, order);
    if (!before || before.state !== order.state) {
      feed([el("b", { title: order.id }, shortId(order.id)), " → "], stateLabel(order.state));
      if (holdsPosition(order.state) && !holdsPosition(before?.state) && !store.pinned) follow(order.id);
      else refreshDetail(order.id);
    } else if (store.selectedId === order.id || order.entryZones.length) {
      // A partial close, a stop move, another zone placed or filled: the chart's legs and
      // the table's zones change.
      refreshDetail(order.id);
    }
  } else if (kind === "position") {
    const before = store.positions.get(String(raw?.order_id ?? raw?.position_id ?? raw?.id));
    const position = newer(before, normalisePosition(raw));
    store.positions.set(position.id, position);
    if (!before || before.state !== position.state) {
      const pnl = position.state === "closed" && position.realizedPnl !== null ? `PnL ${formatMoney(position.realizedPnl)}` : "";
      feed([el("b", { title: position.id }, shortId(position.id)), ` position ${position.state} `], pnl);
    }
  } else {
    return; // heartbeat or something this page does not show
  }
  render();
  if (raw && (String(raw.id ?? raw.order_id ?? "") === store.selectedId)) refreshBars();
}

function start() {
  // A row (clicked, or Enter on a focused one) puts its order on the chart.
  for (const [bodyId, key] of [["orders-body", "orderId"], ["positions-body", "positionId"]]) {
    const pickRow = (event) => {
      const row = event.target.closest("tr");
      if (row?.dataset[key]) select(row.dataset[key]);
    };
    byId(bodyId).addEventListener("click", pickRow);
    byId(bodyId).addEventListener("keydown", (event) => {
      if (event.key === "Enter") pickRow(event);
    });
  }
  setupSignalForm((id, signal) => {
    feed([el("b", { title: id }, shortId(id)), " signal sent "], `${signal.symbol} ${signal.side}`);
    store.pinned = false;
    store.selectedId = id;
    loadAll().then(() => follow(id));
  });
  setupTokenDialog();
  startEvents();
  setInterval(() => refreshBars({ scheduled: true }), CHART_REFRESH_MS);
  // Events carry every change; the lists are re-read only as a safety net: often while the
  // stream is down, rarely while it is up.
  let lastFullLoad = Date.now();
  setInterval(() => {
    const due = store.connection === "live" ? CONSISTENCY_RELOAD_MS : FALLBACK_POLL_MS;
    if (Date.now() - lastFullLoad >= due) {
      lastFullLoad = Date.now();
      loadAll();
    }
  }, FALLBACK_POLL_MS);
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(renderChart, 150);
  });
  loadAll();
}

start();

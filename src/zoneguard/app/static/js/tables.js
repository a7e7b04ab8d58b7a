// The orders and positions tables. Rows are keyed by order id and rebuilt in place, so a
// state change shows as a new badge in the same row without reloading anything.

import { formatDecimal, formatMoney, formatPrice, formatQty, signOf } from "./decimal.js";
import { isTerminal } from "./model.js";
import { badge, byId, clock, el, idCell, sideTag } from "./dom.js";

function num(text, cls = "") {
  return el("td", { class: `r ${cls}`.trim() }, text);
}

/** Why an order is where it is: its error, how it closed, else its exchange id. */
function orderDetail(order) {
  if (order.error) return detailCell(String(order.error), "detail err");
  const parts = [];
  const reason = order.reason ? String(order.reason).replaceAll("_", " ") : null;
  if (order.state === "closed") {
    if (reason) parts.push(reason);
    if (order.closePrice) parts.push(`exit ${formatPrice(order.closePrice)}`);
  } else if (isTerminal(order.state) && reason) {
    parts.push(reason);
  } else if (order.exchangeOrderId) {
    parts.push(`exchange #${order.exchangeOrderId}`);
  } else if (reason) {
    parts.push(reason);
  }
  return detailCell(parts.join(" · "));
}

function detailCell(text, cls = "detail") {
  return el("td", { class: cls, title: text || null }, el("span", { class: "clip" }, text));
}

function orderRow(order, selectedId) {
  const entry = order.entryPrice ?? order.limitPrice;
  return el(
    "tr",
    { "data-order-id": order.id, "data-state": order.state, class: order.id === selectedId ? "selected" : null, tabindex: 0 },
    el("td", { class: "t" }, clock(order.createdAt)),
    idCell(order.id),
    el("td", {}, order.symbol),
    el("td", {}, sideTag(order.side), order.leverage ? el("span", { class: "lev" }, ` ${formatDecimal(order.leverage)}×`) : null),
    zoneCell(order),
    num(formatQty(order.quantity)),
    num(formatPrice(order.stopLoss), "sl"),
    num(targetText(order), "tp"),
    num(formatPrice(entry), order.entryPrice ? "" : "muted"),
    el("td", {}, badge(order.state)),
    orderDetail(order),
  );
}

function positionRow(position, order, selectedId) {
  const pnlSign = signOf(position.realizedPnl);
  const hasPnl = position.realizedPnl !== null && position.realizedPnl !== undefined;
  return el(
    "tr",
    { "data-position-id": position.id, "data-state": position.state, class: position.id === selectedId ? "selected" : null, tabindex: 0 },
    el("td", { class: "t" }, clock(position.openedAt)),
    idCell(position.id),
    el("td", {}, position.symbol || order?.symbol || ""),
    el("td", {}, sideTag(position.side || order?.side)),
    num(formatQty(position.quantity ?? order?.quantity)),
    num(formatPrice(position.entryPrice ?? order?.entryPrice)),
    num(formatPrice(position.exitPrice ?? order?.closePrice)),
    num(formatPrice(position.stopLoss ?? order?.stopLoss), "sl"),
    num(position.takeProfit ? formatPrice(position.takeProfit) : targetText(order), "tp"),
    el("td", { class: `r pnl ${pnlSign > 0 ? "pos" : pnlSign < 0 ? "neg" : ""}`, "data-testid": "pnl" },
      hasPnl ? formatMoney(position.realizedPnl) : "–"),
    el("td", {}, badge(position.state)),
    detailCell(position.error ? String(position.error) : position.reason ? String(position.reason).replaceAll("_", " ") : "",
      position.error ? "detail err" : "detail"),
  );
}

/** Replace the body's rows, flashing the ones whose state changed since the last render. */
function renderBody(bodyId, emptyId, countId, rows, keyAttr) {
  const body = byId(bodyId);
  const before = new Map([...body.rows].map((r) => [r.getAttribute(keyAttr), r.dataset.state]));
  body.replaceChildren(...rows);
  for (const row of rows) {
    const was = before.get(row.getAttribute(keyAttr));
    if (was !== undefined && was !== row.dataset.state) {
      row.classList.add("flash");
      setTimeout(() => row.classList.remove("flash"), 700);
    }
  }
  byId(emptyId).hidden = rows.length > 0;
  byId(countId).textContent = rows.length ? String(rows.length) : "";
}

const newestFirst = (a, b) => (b.createdAt ?? b.openedAt ?? 0) - (a.createdAt ?? a.openedAt ?? 0) || b.id.localeCompare(a.id);

export function renderOrders(orders, selectedId) {
  const rows = [...orders].sort(newestFirst).map((o) => orderRow(o, selectedId));
  renderBody("orders-body", "orders-empty", "orders-count", rows, "data-order-id");
}

export function renderPositions(positions, ordersById, selectedId) {
  const rows = [...positions].sort(newestFirst).map((p) => positionRow(p, ordersById.get(p.id), selectedId));
  renderBody("positions-body", "positions-empty", "positions-count", rows, "data-position-id");
}

/** The zone cell: the seed's one zone, or each of several with its share, one a line. */
function zoneCell(order) {
  const zones = order.entryZones ?? [];
  if (!zones.length) return num(`${formatPrice(order.zoneMin)} – ${formatPrice(order.zoneMax)}`);
  const states = new Map((order.entryProgress?.zones ?? []).map((z) => [z.index, z.state]));
  return el("td", { class: "r zones" }, ...zones.map((zone, i) =>
    el("div", { "data-zone": i + 1, "data-state": states.get(i + 1) ?? null },
      `${formatPrice(zone.min)} – ${formatPrice(zone.max)} `, el("span", { class: "share" }, `${formatDecimal(zone.size_percent)}%`))));
}

/** The take-profit cell: the seed's single target, or a ladder's rungs (``66,000 · 67,000``). */
function targetText(order) {
  const rungs = order?.takeProfits ?? [];
  if (!rungs.length) return formatPrice(order?.takeProfit);
  return rungs.map((rung) => formatPrice(rung.price)).join(" · ");
}

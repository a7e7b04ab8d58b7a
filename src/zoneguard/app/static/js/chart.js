// A candlestick chart of one position with its entry zone (or each of several), stop-loss,
// take-profit, entry, exit and last price, drawn as plain SVG (no chart library, nothing
// fetched from outside).

import { formatPrice, toNumber } from "./decimal.js";

const SVG = "http://www.w3.org/2000/svg";
const PAD = { left: 8, top: 16, bottom: 24 };
const CHAR_WIDTH = 6.8; // 11px monospace
const MIN_SLOTS = 48; // few bars still look like candles, not slabs
const TAG_HEIGHT = 16;

function node(tag, attrs = {}, parent = null) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  if (parent) parent.appendChild(el);
  return el;
}

/** A "nice" grid step (1, 2, 2.5 or 5 times a power of ten) giving about ``count`` lines. */
function niceStep(span, count) {
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  return step ?? 10 * magnitude;
}

/** Decimals that show every grid value of ``step`` exactly (2.5 needs one, 0.25 two). */
function decimalsFor(step) {
  const exponent = Math.floor(Math.log10(step));
  const mantissa = Math.round((step / 10 ** exponent) * 10) / 10;
  return Math.min(8, Math.max(0, -exponent + (mantissa === 2.5 ? 1 : 0)));
}

/** Spread tag centres apart (at least TAG_HEIGHT + 2) while keeping them inside [top, bottom]. */
function declutter(tags, top, bottom) {
  const gap = TAG_HEIGHT + 2;
  tags.sort((a, b) => a.y - b.y);
  for (let i = 0; i < tags.length; i += 1) {
    tags[i].ty = Math.max(tags[i].y, top + TAG_HEIGHT / 2, i ? tags[i - 1].ty + gap : -Infinity);
  }
  for (let i = tags.length - 1; i >= 0; i -= 1) {
    const limit = i === tags.length - 1 ? bottom - TAG_HEIGHT / 2 : tags[i + 1].ty - gap;
    tags[i].ty = Math.min(tags[i].ty, limit);
  }
  return tags;
}

function timeLabel(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

/**
 * Draw into ``container`` (replacing what was there).
 * ``bars``: [{t (open, s), o, h, l, c}] oldest first (decimal strings).
 * ``levels``: {zoneMin, zoneMax, stopLoss, takeProfit, entry, exit, last} (decimal strings or null).
 * ``marks``: {entryAt, exitAt} in ms, optional.
 * ``ladder``: take-profit rungs [{index, price, state}] drawn as TP1..TPn instead of one TP.
 * ``stopReason``: why the stop is where it is (``break_even``, ``trailing_stop`` move it).
 * ``partials``: [{at (ms), price, index}] partial exits, marked where they happened.
 * ``zones``: [{index, min, max, share, state}] several entry zones, one band each (drawn
 *   instead of the one band of ``levels.zoneMin``..``zoneMax``, which is then their span).
 * ``zoneFills``: [{at (ms), price, index}] each zone's fill, marked where it happened.
 */
export function drawChart(container, {
  bars = [], levels = {}, marks = {}, message = null, ladder = [], stopReason = null, partials = [],
  zones = [], zoneFills = [],
}) {
  const width = Math.max(320, container.clientWidth);
  const height = Math.max(200, container.clientHeight);
  const svg = node("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Price chart", "data-bars": bars.length,
  });
  const rungs = ladder.map((r) => ["take_profit", `TP${r.index}`, r.price, { level: `take_profit_${r.index}`, state: r.state }]);
  const stopLabel = { break_even: "BE", trailing_stop: "TSL" }[stopReason] ?? "SL";
  const named = [
    ...(rungs.length ? rungs : [["take_profit", "TP", levels.takeProfit]]),
    ["stop_loss", stopLabel, levels.stopLoss, { moved: stopLabel === "SL" ? null : stopReason }],
    ["entry", "ENTRY", levels.entry],
    ["exit", "EXIT", levels.exit],
    ["last", "LAST", levels.last],
  ].filter(([, , value]) => toNumber(value) !== null);
  const longest = Math.max(8, ...named.map(([, label, value]) => label.length + 1 + formatPrice(value).length));
  const axisWidth = Math.ceil(longest * CHAR_WIDTH + 14);
  const plot = { x0: PAD.left, x1: width - axisWidth, y0: PAD.top, y1: height - PAD.bottom };

  const candles = bars
    .map((b) => ({ t: Number(b.t), o: toNumber(b.o), h: toNumber(b.h), l: toNumber(b.l), c: toNumber(b.c) }))
    .filter((b) => [b.o, b.h, b.l, b.c].every((v) => v !== null && Number.isFinite(v)));
  const levelValues = [...Object.values(levels), ...ladder.map((r) => r.price), ...zones.flatMap((z) => [z.min, z.max])]
    .map(toNumber).filter((v) => v !== null);
  const values = [...candles.flatMap((b) => [b.h, b.l]), ...levelValues];

  if (!values.length) {
    node("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "chart-empty" }, svg)
      .textContent = message ?? "No price data yet";
    container.replaceChildren(svg);
    return svg;
  }

  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const pad = (hi - lo) * 0.07 || Math.abs(hi) * 0.002 || 1;
  lo -= pad;
  hi += pad;
  const y = (v) => plot.y1 - ((v - lo) / (hi - lo)) * (plot.y1 - plot.y0);

  // Grid and price axis.
  const grid = node("g", { class: "axis" }, svg);
  const step = niceStep(hi - lo, 6);
  const dp = decimalsFor(step);
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
    const gy = y(v);
    node("line", { x1: plot.x0, x2: plot.x1, y1: gy, y2: gy, class: "grid-line" }, grid);
    node("text", { x: plot.x1 + 8, y: gy + 4 }, grid).textContent = v.toLocaleString("en-US", {
      minimumFractionDigits: dp, maximumFractionDigits: dp,
    });
  }

  // Risk (entry to stop) and reward (entry to target) areas, faint, under everything else.
  const zoneMin = toNumber(levels.zoneMin);
  const zoneMax = toNumber(levels.zoneMax);
  const reference = toNumber(levels.entry) ?? (zoneMin !== null && zoneMax !== null ? (zoneMin + zoneMax) / 2 : null);
  const area = (to, cls) => {
    const v = toNumber(to);
    if (v === null || reference === null) return;
    const top = y(Math.max(v, reference));
    node("rect", { x: plot.x0, y: top, width: plot.x1 - plot.x0, height: y(Math.min(v, reference)) - top, class: cls }, svg);
  };
  area(levels.stopLoss, "risk-area");
  area(rungs.length ? rungs[rungs.length - 1][2] : levels.takeProfit, "reward-area");

  // Entry zone band (under the candles): one per zone when there are several.
  for (const zone of zones) {
    const low = toNumber(zone.min);
    const high = toNumber(zone.max);
    if (low === null || high === null) continue;
    const top = y(Math.max(low, high));
    const band = node("rect", {
      x: plot.x0, y: top, width: plot.x1 - plot.x0, height: Math.max(2, y(Math.min(low, high)) - top),
      class: "zone-band zone-part", "data-level": `entry_zone_${zone.index}`, "data-min": zone.min,
      "data-max": zone.max, "data-share": zone.share, "data-state": zone.state,
    }, svg);
    band.appendChild(document.createElementNS(SVG, "title")).textContent =
      `Entry zone ${zone.index}: ${formatPrice(zone.min)} – ${formatPrice(zone.max)}, ${zone.share}% (${zone.state})`;
    node("text", { x: plot.x0 + 8, y: top + 12, class: "zone-label" }, svg).textContent =
      `ZONE ${zone.index} · ${zone.share}%`;
  }
  if (!zones.length && zoneMin !== null && zoneMax !== null) {
    const top = y(Math.max(zoneMin, zoneMax));
    const band = node("rect", {
      x: plot.x0, y: top, width: plot.x1 - plot.x0, height: Math.max(2, y(Math.min(zoneMin, zoneMax)) - top),
      class: "zone-band", "data-level": "zone", "data-min": levels.zoneMin, "data-max": levels.zoneMax,
    }, svg);
    band.appendChild(document.createElementNS(SVG, "title")).textContent =
      `Entry zone ${formatPrice(levels.zoneMin)} – ${formatPrice(levels.zoneMax)}`;
    node("text", { x: plot.x0 + 8, y: top + 13, class: "zone-label" }, svg).textContent = "ENTRY ZONE";
  }

  // Candles, right-aligned so the latest bar sits next to the price tags.
  const slots = Math.max(MIN_SLOTS, candles.length + 2);
  const slot = (plot.x1 - plot.x0) / slots;
  const xOf = (i) => plot.x1 - (candles.length - i + 1.5) * slot;
  const body = Math.max(1, Math.min(14, slot * 0.64));
  const candleGroup = node("g", { class: "candles" }, svg);
  candles.forEach((b, i) => {
    const cx = xOf(i);
    const cls = b.c >= b.o ? "candle-up" : "candle-down";
    node("line", { x1: cx, x2: cx, y1: y(b.h), y2: y(b.l), class: `wick ${cls}` }, candleGroup);
    const top = y(Math.max(b.o, b.c));
    node("rect", {
      x: cx - body / 2, y: top, width: body, height: Math.max(1, y(Math.min(b.o, b.c)) - top), class: cls,
    }, candleGroup);
  });

  // Time axis.
  const labelEvery = Math.max(1, Math.ceil(90 / slot));
  candles.forEach((b, i) => {
    if ((candles.length - 1 - i) % labelEvery === 0) {
      node("text", { x: xOf(i), y: height - 7, "text-anchor": "middle" }, grid).textContent = timeLabel(b.t);
    }
  });

  // Horizontal levels with tags on the price axis.
  const tags = [];
  for (const [key, label, value, extra = {}] of named) {
    const ly = y(toNumber(value));
    const attrs = {
      x1: plot.x0, x2: plot.x1, y1: ly, y2: ly, class: `lvl lvl-${key}`, "data-level": extra.level ?? key, "data-price": value,
    };
    if (extra.state) attrs["data-state"] = extra.state;
    if (extra.moved) attrs["data-moved"] = extra.moved;
    node("line", attrs, svg);
    tags.push({ key, text: `${label} ${formatPrice(value)}`, y: ly });
  }
  if (zoneMin !== null && zoneMax !== null) {
    tags.push({ key: "zone", text: formatPrice(levels.zoneMax), y: y(Math.max(zoneMin, zoneMax)) });
    tags.push({ key: "zone", text: formatPrice(levels.zoneMin), y: y(Math.min(zoneMin, zoneMax)) });
  }
  const tagGroup = node("g", {}, svg);
  for (const tag of declutter(tags, plot.y0 - PAD.top + 1, height - 1)) {
    const g = node("g", { class: `tag tag-${tag.key}` }, tagGroup);
    node("rect", { x: plot.x1 + 2, y: tag.ty - TAG_HEIGHT / 2, width: axisWidth - 4, height: TAG_HEIGHT }, g);
    node("text", { x: plot.x1 + 6, y: tag.ty + 4 }, g).textContent = tag.text;
  }

  // Fill and exit markers at the bar they happened in.
  const markAt = (ms, price, cls, extra = {}) => {
    const v = toNumber(price);
    if (!ms || v === null || !candles.length) return;
    const seconds = ms / 1000;
    let index = candles.findIndex((b, i) => seconds >= b.t && (i === candles.length - 1 || seconds < candles[i + 1].t));
    if (index < 0) {
      if (seconds < candles[0].t) return; // before the chart window
      index = candles.length - 1;
    }
    const cx = xOf(index) + body / 2 + 5;
    const my = y(v);
    node("path", { d: `M${cx} ${my} l7 -5 v10 z`, class: cls, "data-marker": cls, ...extra }, svg);
  };
  markAt(marks.entryAt, levels.entry, "marker-entry");
  markAt(marks.exitAt, levels.exit, "marker-exit");
  for (const part of partials) markAt(part.at, part.price, "marker-partial", { "data-index": part.index });
  for (const fill of zoneFills) markAt(fill.at, fill.price, "marker-zone-fill", { "data-index": fill.index });

  container.replaceChildren(svg);
  return svg;
}

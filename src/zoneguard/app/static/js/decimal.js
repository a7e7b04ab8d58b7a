// Prices, sizes and PnL arrive as decimal strings (or JSON numbers). They are shown and
// summed exactly: parsed into a scaled BigInt, never through a binary float. Floats are
// used only for chart geometry (toNumber), where a pixel is the precision that matters.

const DECIMAL_TEXT = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** {units: BigInt, scale: int} with value = units / 10^scale, or null when not a number. */
export function parseDecimal(value) {
  if (value === null || value === undefined || value === "" || typeof value === "boolean") return null;
  if (typeof value === "number" && !Number.isFinite(value)) return null;
  const match = DECIMAL_TEXT.exec(String(value).trim());
  if (!match || (match[2] === "" && (match[3] === undefined || match[3] === ""))) return null;
  const [, sign, whole, fraction = "", exponentText] = match;
  let digits = (whole || "0") + fraction;
  let scale = fraction.length - (exponentText ? parseInt(exponentText, 10) : 0);
  if (scale < 0) {
    digits += "0".repeat(-scale);
    scale = 0;
  }
  let units = BigInt(digits);
  if (sign === "-") units = -units;
  return { units, scale };
}

function rescale(d, scale) {
  return d.units * 10n ** BigInt(scale - d.scale);
}

/** Exact sum of decimal values (unparseable ones are skipped); a string. */
export function sumDecimals(values) {
  let total = { units: 0n, scale: 0 };
  for (const value of values) {
    const d = parseDecimal(value);
    if (d === null) continue;
    const scale = Math.max(total.scale, d.scale);
    total = { units: rescale(total, scale) + rescale(d, scale), scale };
  }
  return toText(total);
}

function toText(d) {
  const negative = d.units < 0n;
  let digits = (negative ? -d.units : d.units).toString();
  if (d.scale > 0) {
    digits = digits.padStart(d.scale + 1, "0");
    digits = `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`;
  }
  return (negative ? "-" : "") + digits;
}

/** Round half away from zero to ``dp`` places. */
function roundTo(d, dp) {
  if (d.scale <= dp) return { units: rescale(d, dp), scale: dp };
  const divisor = 10n ** BigInt(d.scale - dp);
  const magnitude = d.units < 0n ? -d.units : d.units;
  let quotient = magnitude / divisor;
  if ((magnitude % divisor) * 2n >= divisor) quotient += 1n;
  return { units: d.units < 0n ? -quotient : quotient, scale: dp };
}

function trimZeros(d, minDp) {
  let { units, scale } = d;
  while (scale > minDp && units % 10n === 0n) {
    units /= 10n;
    scale -= 1;
  }
  return { units, scale };
}

function group(text) {
  const negative = text.startsWith("-");
  const body = negative ? text.slice(1) : text;
  const [whole, fraction] = body.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (negative ? "\u2212" : "") + grouped + (fraction !== undefined ? `.${fraction}` : "");
}

/**
 * Text of a decimal for a table cell: thousands grouped, trailing zeros trimmed down to
 * ``minDp``, rounded to ``maxDp`` when given; ``signed`` adds "+" to positives.
 * An absent value is an en dash.
 */
export function formatDecimal(value, { minDp = 0, maxDp = null, signed = false } = {}) {
  let d = parseDecimal(value);
  if (d === null) return "\u2013";
  if (maxDp !== null) d = roundTo(d, maxDp);
  d = trimZeros(d, minDp);
  if (d.scale < minDp) d = { units: rescale(d, minDp), scale: minDp };
  const text = group(toText(d));
  return signed && d.units > 0n ? `+${text}` : text;
}

export const formatPrice = (value) => formatDecimal(value, { maxDp: 8 });
export const formatQty = (value) => formatDecimal(value, { maxDp: 8 });
export const formatMoney = (value, signed = true) => formatDecimal(value, { minDp: 2, maxDp: 2, signed });

/** -1, 0 or 1 (0 also for an absent value). */
export function signOf(value) {
  const d = parseDecimal(value);
  if (d === null || d.units === 0n) return 0;
  return d.units < 0n ? -1 : 1;
}

/** A float for drawing only; null when absent. */
export function toNumber(value) {
  const d = parseDecimal(value);
  return d === null ? null : Number(toText(d));
}

/**
 * Kubernetes resource quantities (`resource.Quantity`): `"500m"`, `"1.5Gi"`, `"129e6"`, `2`.
 *
 * One exact parser (BigInt, no floating point), so `"0.1"` cpu is 100 millicores, not 101, and
 * sums of quantities compare exactly. Values come out scaled and rounded up, as
 * `Quantity.MilliValue()` and `Value()` round, and are capped at ±(2^63 − 1) units first, as
 * Kubernetes caps them.
 *
 * @example
 * ```ts
 * milliValue("250m"); // 250
 * milliValue("0.1"); // 100
 * wholeValue("1Gi"); // 1073741824
 * scaledValue("1.5k", 0); // 1500n
 * ```
 *
 * @module
 */

/** What a quantity string looks like: the pattern the object schemas check and publish. */
export const QUANTITY_PATTERN =
  /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/;

const BINARY_POWERS: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_EXPONENTS: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  "": 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

/** The largest magnitude Kubernetes keeps; larger quantities are capped to it. */
const MAX_VALUE = 2n ** 63n - 1n;
/** Digits of {@linkcode MAX_VALUE}: a value with more integer digits is over it. */
const MAX_DIGITS = MAX_VALUE.toString().length;

/** A quantity's exact value: `numerator × 10^exponent`. */
interface Exact {
  numerator: bigint;
  exponent: number;
}

/**
 * Parse a quantity (a string in Kubernetes' syntax, or a finite number).
 *
 * @throws {TypeError} when `q` is neither a string nor a number
 * @throws {RangeError} when `q` is not a quantity, naming the value
 */
function parseQuantity(q: unknown): Exact {
  let text: string;
  if (typeof q === "number") {
    if (!Number.isFinite(q)) {
      throw new RangeError(`Cannot parse quantity ${q}: not a finite number`);
    }
    text = String(q);
  } else if (typeof q === "string") {
    text = q;
  } else {
    throw new TypeError(`Cannot parse quantity ${JSON.stringify(q)}: not a string or number`);
  }
  const m = QUANTITY_PATTERN.exec(text);
  if (!m) {
    throw new RangeError(
      `Cannot parse quantity ${JSON.stringify(text)}: not a Kubernetes quantity`,
    );
  }
  const [whole = "", fraction = ""] = (m[1] ?? "").split(".");
  const suffix = m[3] ?? "";
  let numerator = BigInt((whole + fraction) || "0");
  if (text.startsWith("-")) numerator = -numerator;
  let exponent = -fraction.length;
  const power = BINARY_POWERS[suffix];
  if (power !== undefined) numerator *= 2n ** BigInt(power);
  else exponent += DECIMAL_EXPONENTS[suffix] ?? Number(suffix.slice(1));
  return { numerator, exponent };
}

/** `ceil(numerator × 10^exponent)`. */
function ceilScaled(numerator: bigint, exponent: number): bigint {
  if (exponent >= 0) return numerator * 10n ** BigInt(exponent);
  const denominator = 10n ** BigInt(-exponent);
  const quotient = numerator / denominator;
  return numerator > 0n && quotient * denominator !== numerator ? quotient + 1n : quotient;
}

/**
 * `ceil(q × 10^scale)`, exactly: `scaledValue("0.1", 3)` is `100n`, `scaledValue("1n", 0)` is
 * `1n`. A quantity beyond ±(2^63 − 1) counts as that bound. Only powers of ten as large as the
 * input's own digits are computed, so `"1e999999999"` costs no more than `"1"`.
 *
 * @throws {TypeError} when `q` is neither a string nor a number
 * @throws {RangeError} when `q` is not a quantity, naming the value
 */
export function scaledValue(q: unknown, scale: number): bigint {
  let { numerator, exponent } = parseQuantity(q);
  if (numerator === 0n) return 0n;
  const negative = numerator < 0n;
  const magnitude = negative ? -numerator : numerator;
  /** `10^(order − 1) ≤ |value| < 10^order` */
  const order = magnitude.toString().length + exponent;
  const capped = order > MAX_DIGITS ||
    (order > 0 && ceilScaled(magnitude, exponent) > MAX_VALUE);
  if (capped) {
    numerator = negative ? -MAX_VALUE : MAX_VALUE;
    exponent = 0;
  } else if (order + scale <= 0) {
    return negative ? 0n : 1n;
  }
  return ceilScaled(numerator, exponent + scale);
}

/** A quantity in thousandths, rounded up: cpu `"250m"` → 250, `"0.1"` → 100, `2` → 2000. */
export function milliValue(q: unknown): number {
  return Number(scaledValue(q, 3));
}

/** A quantity in whole units, rounded up: memory `"128Mi"` → 134217728, `"500m"` → 1. */
export function wholeValue(q: unknown): number {
  return Number(scaledValue(q, 0));
}

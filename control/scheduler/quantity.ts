/**
 * Resource quantities as the scheduler counts them: cpu in millicores, everything else
 * (memory, ephemeral-storage, extended resources) in whole units, both rounded up as
 * `resource.Quantity.MilliValue()` and `Value()` round. The arithmetic is exact (BigInt), so
 * `"0.1"` cpu is 100 millicores, not 101.
 *
 * @example
 * ```ts
 * milliValue("250m"); // 250
 * milliValue("1.5"); // 1500
 * wholeValue("1Gi"); // 1073741824
 * wholeValue("1.5k"); // 1500
 * ```
 *
 * @module
 */

const QUANTITY_RE =
  /^([+-]?)([0-9]*)(?:\.([0-9]*))?(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/;

const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = {
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

/** `q × 10^scale`, rounded up to an integer. */
function scaled(q: unknown, scale: number): number {
  if (typeof q === "number") {
    if (!Number.isFinite(q)) throw new Error(`Cannot parse quantity ${q}: not a finite number`);
    return scaled(String(q), scale);
  }
  if (typeof q !== "string") {
    throw new Error(`Cannot parse quantity ${JSON.stringify(q)}: not a string or number`);
  }
  const m = QUANTITY_RE.exec(q);
  const whole = m?.[2] ?? "";
  const fraction = m?.[3] ?? "";
  if (!m || (whole === "" && fraction === "")) {
    throw new Error(`Cannot parse quantity ${JSON.stringify(q)}: not a Kubernetes quantity`);
  }
  const suffix = m[4] ?? "";
  let numerator = BigInt(`${whole}${fraction}` || "0");
  let denominator = 10n ** BigInt(fraction.length);
  let exponent = scale;
  const binary = BINARY[suffix];
  if (binary !== undefined) numerator *= 2n ** BigInt(binary);
  else exponent += DECIMAL[suffix] ?? Number(suffix.slice(1));
  if (exponent >= 0) numerator *= 10n ** BigInt(exponent);
  else denominator *= 10n ** BigInt(-exponent);
  const negative = m[1] === "-";
  const quotient = numerator / denominator;
  const roundUp = !negative && quotient * denominator !== numerator ? 1n : 0n;
  const value = quotient + roundUp;
  return Number(negative ? -value : value);
}

/** A quantity in thousandths, rounded up: cpu `"250m"` → 250, `"2"` → 2000. */
export function milliValue(q: unknown): number {
  return scaled(q, 3);
}

/** A quantity in whole units, rounded up: memory `"128Mi"` → 134217728, `"1k"` → 1000. */
export function wholeValue(q: unknown): number {
  return scaled(q, 0);
}

/**
 * Small formatting helpers shared by the ctl printers, each matching the Kubernetes helper it
 * is named after.
 *
 * @module
 */

import { isPlainObject } from "../../storage/object.ts";

/** apimachinery `duration.HumanDuration`: `45s`, `3m20s`, `5h`, `2d3h`, `1y20d`. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${days}d` : `${days}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) {
    const d = days % 365;
    return d === 0 ? `${years}y` : `${years}y${d}d`;
  }
  return `${years}y`;
}

/** The age of a timestamp as kubectl prints it; `<unknown>` when absent or unparsable. */
export function age(timestamp: unknown, now: Date): string {
  if (typeof timestamp !== "string" || timestamp === "") return "<unknown>";
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? "<unknown>" : humanDuration(now.getTime() - t);
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Go's `time.RFC1123Z` in UTC: `Mon, 02 Jan 2006 15:04:05 +0000`; "" when not a time. */
export function rfc1123z(timestamp: unknown): string {
  if (typeof timestamp !== "string") return "";
  const t = new Date(timestamp);
  if (Number.isNaN(t.getTime())) return "";
  const two = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[t.getUTCDay()]}, ${two(t.getUTCDate())} ${
    MONTHS[t.getUTCMonth()]
  } ${t.getUTCFullYear()} ${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${
    two(t.getUTCSeconds())
  } +0000`;
}

/** apimachinery `labels.FormatLabels`: `a=1,b=2` sorted by key, `<none>` when empty. */
export function formatLabels(labels: unknown): string {
  if (!isPlainObject(labels)) return "<none>";
  const keys = Object.keys(labels).sort();
  return keys.length === 0 ? "<none>" : keys.map((k) => `${k}=${labels[k]}`).join(",");
}

/** A copy of JSON data with every object's keys sorted, as Go marshals `map[string]any`. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
  return out;
}

/**
 * Compact JSON as Go's `encoding/json` writes a `map[string]any`: sorted keys, and `<`, `>`,
 * `&` escaped as `\u003c`, `\u003e`, `\u0026`.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Read a nested field, e.g. `field(pod, "status", "podIP")`; undefined when any step is missing. */
export function field(value: unknown, ...path: string[]): unknown {
  let cur = value;
  for (const key of path) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** `field()` as a string; "" when missing or not a scalar. */
export function str(value: unknown, ...path: string[]): string {
  const v = field(value, ...path);
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : "";
}

/** `field()` as an array of plain objects; empty when missing. */
export function objects(value: unknown, ...path: string[]): Record<string, unknown>[] {
  const v = field(value, ...path);
  return Array.isArray(v) ? v.filter(isPlainObject) : [];
}

/** `field()` as a string map; empty when missing. */
export function stringMap(value: unknown, ...path: string[]): Record<string, string> {
  const v = field(value, ...path);
  const out: Record<string, string> = {};
  if (isPlainObject(v)) { for (const [k, x] of Object.entries(v)) out[k] = String(x); }
  return out;
}

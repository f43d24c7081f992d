/**
 * Kubernetes' time formats, for code on both sides (the agent loads this without zod).
 *
 * @module
 */

/** RFC 3339 with microseconds, as Kubernetes' MicroTime (Lease renewTime, Event eventTime). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

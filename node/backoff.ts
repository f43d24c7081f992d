/**
 * Crash and image-pull back-off, as kubelet's `flowcontrol.Backoff`: per key (a pod's
 * container), 10 s after the first failure, doubling on each further failure up to 5 min, and
 * forgotten once a failure comes more than 10 min after the previous one (the container ran
 * that long without failing).
 *
 * @example
 * ```ts
 * const backoff = new Backoff(clock);
 * if (backoff.isInBackOffSince(key, finishedAt)) {
 *   // report CrashLoopBackOff, retry in backoff.remaining(key, finishedAt) ms
 * } else {
 *   backoff.next(key, finishedAt);
 *   // restart the container now
 * }
 * ```
 *
 * @module
 */

import type { Clock } from "../storage/clock.ts";

/** Timing of a {@linkcode Backoff}, in milliseconds. */
export interface BackoffOptions {
  /** the first delay (10 s) */
  initialMs: number;
  /** the largest delay (5 min) */
  maxMs: number;
  /** a failure this long after the previous one starts over at `initialMs` (10 min) */
  resetMs: number;
}

/** kubelet's crash-loop back-off timing. */
export const CRASH_BACKOFF: BackoffOptions = {
  initialMs: 10_000,
  maxMs: 300_000,
  resetMs: 600_000,
};

interface Entry {
  delayMs: number;
  lastUpdate: number;
}

/** Per-key exponential back-off driven by a {@linkcode Clock}. */
export class Backoff {
  readonly #clock: Clock;
  readonly #options: BackoffOptions;
  readonly #entries = new Map<string, Entry>();

  constructor(clock: Clock, options: BackoffOptions = CRASH_BACKOFF) {
    this.#clock = clock;
    this.#options = options;
  }

  #live(key: string, eventTime: number): Entry | undefined {
    const entry = this.#entries.get(key);
    if (!entry || eventTime - entry.lastUpdate > this.#options.resetMs) return undefined;
    return entry;
  }

  /** The current delay for `key` (0 when it has none). */
  get(key: string): number {
    return this.#entries.get(key)?.delayMs ?? 0;
  }

  /** Record a failure at `eventTime`: start at the initial delay, or double it up to the cap. */
  next(key: string, eventTime: number): void {
    const entry = this.#live(key, eventTime);
    const delayMs = entry
      ? Math.min(entry.delayMs * 2, this.#options.maxMs)
      : this.#options.initialMs;
    this.#entries.set(key, { delayMs, lastUpdate: eventTime });
  }

  /** Whether less than the current delay has passed since a failure at `eventTime`. */
  isInBackOffSince(key: string, eventTime: number): boolean {
    const entry = this.#live(key, eventTime);
    return entry !== undefined && this.#clock.now() - eventTime < entry.delayMs;
  }

  /** Whether less than the current delay has passed since the last recorded failure. */
  isInBackOffSinceUpdate(key: string): boolean {
    const entry = this.#entries.get(key);
    return entry !== undefined && this.#clock.now() - entry.lastUpdate < entry.delayMs;
  }

  /** Milliseconds until the back-off since `eventTime` ends (0 when it has). */
  remaining(key: string, eventTime: number): number {
    const entry = this.#live(key, eventTime);
    return entry ? Math.max(0, eventTime + entry.delayMs - this.#clock.now()) : 0;
  }

  /** Milliseconds until the back-off since the last recorded failure ends. */
  remainingSinceUpdate(key: string): number {
    const entry = this.#entries.get(key);
    return entry ? Math.max(0, entry.lastUpdate + entry.delayMs - this.#clock.now()) : 0;
  }

  /** Forget `key`. */
  reset(key: string): void {
    this.#entries.delete(key);
  }
}

/** A duration the way Go's `time.Duration.String` prints whole seconds: `10s`, `2m40s`, `5m0s`. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m${seconds % 60}s`;
}

/**
 * `WorkQueue`: the keys a controller must look at, and the one worker that reconciles them.
 *
 * A key added while it waits is not added twice; a key added while it is being reconciled runs
 * again afterwards. When `reconcile(key)` returns true the key is added again after `retryMs`;
 * when it throws (the error goes to `onError`) after a delay that doubles with each failure in
 * a row, from `retryMs` up to `maxRetryMs` (client-go's per-item exponential rate limiter); a
 * reconcile that does not throw forgets the failures. Keys run in the order they were first
 * added.
 *
 * @example
 * ```ts
 * const queue = new WorkQueue({
 *   reconcile: (key) => controller.reconcile(key),
 *   onError: (key, e) => console.error(`my controller: reconcile ${key}:`, e),
 *   retryMs: 1000,
 * });
 * queue.add("default/web");
 * queue.start();
 * // …
 * await queue.stop();
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "../storage/clock.ts";

/** Options of {@linkcode WorkQueue}. */
export interface WorkQueueOptions {
  /** converge one key; true when it must be looked at again after `retryMs` */
  reconcile: (key: string) => Promise<boolean>;
  /** told what a reconcile threw; the key is then retried after `retryMs` */
  onError: (key: string, error: unknown) => void;
  /** delay before a key whose reconcile asked for it, or failed once, is added again */
  retryMs: number;
  /** the longest delay after failures in a row (default `retryMs`: no growth) */
  maxRetryMs?: number;
  /** the clock retries wait on (default: the system clock) */
  clock?: Clock;
}

/** A key-deduplicating queue with one worker; see the module doc. */
export class WorkQueue {
  readonly #reconcile: (key: string) => Promise<boolean>;
  readonly #onError: (key: string, error: unknown) => void;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  readonly #clock: Clock;
  readonly #keys = new Set<string>();
  /** failures in a row, by key */
  readonly #failures = new Map<string, number>();
  readonly #stop = new AbortController();
  #wake: (() => void) | undefined;
  #worker: Promise<void> | undefined;

  constructor(options: WorkQueueOptions) {
    this.#reconcile = options.reconcile;
    this.#onError = options.onError;
    this.#retryMs = options.retryMs;
    this.#maxRetryMs = Math.max(options.retryMs, options.maxRetryMs ?? options.retryMs);
    this.#clock = options.clock ?? systemClock;
  }

  /** Queue `key` unless it is already waiting; does nothing once stopped. */
  add(key: string): void {
    if (this.#stop.signal.aborted) return;
    this.#keys.add(key);
    this.#wake?.();
  }

  /** Queue `key` after `ms`, unless the queue stops first. */
  addAfter(key: string, ms: number): void {
    const signal = this.#stop.signal;
    if (signal.aborted) return;
    this.#clock.sleep(ms, signal).then(() => this.add(key));
  }

  /** Start the worker (once; keys added before wait for it). */
  start(): void {
    this.#worker ??= this.#work();
  }

  /**
   * Stop: drop pending retries, take no more keys, and resolve once the worker has finished
   * the reconcile it is in.
   */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    await this.#worker;
  }

  async #work(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const next = this.#keys.values().next();
      if (next.done) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      const key = next.value;
      this.#keys.delete(key);
      try {
        const again = await this.#reconcile(key);
        this.#failures.delete(key);
        if (again) this.addAfter(key, this.#retryMs);
      } catch (e) {
        this.#onError(key, e);
        const failures = (this.#failures.get(key) ?? 0) + 1;
        this.#failures.set(key, failures);
        const delay = this.#retryMs * 2 ** Math.min(failures - 1, 30);
        this.addAfter(key, Math.min(delay, this.#maxRetryMs));
      }
    }
  }
}

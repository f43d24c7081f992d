/**
 * `WorkQueue`: the keys a controller must look at, and the one worker that reconciles them.
 *
 * A key added while it waits is not added twice; a key added while it is being reconciled runs
 * again afterwards. When `reconcile(key)` returns true or throws (the error goes to `onError`),
 * the key is added again after `retryMs`. Keys run in the order they were first added.
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
  /** delay before a key whose reconcile asked for it, or failed, is added again */
  retryMs: number;
  /** the clock retries wait on (default: the system clock) */
  clock?: Clock;
}

/** A key-deduplicating queue with one worker; see the module doc. */
export class WorkQueue {
  readonly #reconcile: (key: string) => Promise<boolean>;
  readonly #onError: (key: string, error: unknown) => void;
  readonly #retryMs: number;
  readonly #clock: Clock;
  readonly #keys = new Set<string>();
  readonly #stop = new AbortController();
  #wake: (() => void) | undefined;
  #worker: Promise<void> | undefined;

  constructor(options: WorkQueueOptions) {
    this.#reconcile = options.reconcile;
    this.#onError = options.onError;
    this.#retryMs = options.retryMs;
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
      let again: boolean;
      try {
        again = await this.#reconcile(key);
      } catch (e) {
        this.#onError(key, e);
        again = true;
      }
      if (again) this.addAfter(key, this.#retryMs);
    }
  }
}

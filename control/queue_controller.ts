/**
 * `QueueController`: the base of the level-based controllers. It owns their
 * {@linkcode WorkQueue}, whose one worker calls `reconcile(key)`, logs what a reconcile throws as
 * `<name>: sync <key>:` and retries it with back-off (from `retryMs`, default 1 s, doubling up
 * to `maxRetryMs`, default 5 min), and starts and stops that worker. A subclass turns its
 * informers' events into `this.queue.add(key)` and implements `reconcile`; one that runs more
 * (a watch, a timer) overrides `start`/`stop` and calls `super`.
 *
 * @example
 * ```ts
 * class ConfigMapController extends QueueController {
 *   constructor(options: { configMaps: Informer; clock?: Clock; retryMs?: number }) {
 *     super("configmap controller", options);
 *     options.configMaps.onEvent((ev) => this.queue.add(queueKey(ev.object)));
 *   }
 *
 *   override async reconcile(key: string): Promise<boolean> {
 *     // converge `key`; true to look at it again after `retryMs`
 *     return false;
 *   }
 * }
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "../storage/clock.ts";
import { WorkQueue } from "./work_queue.ts";

/** Options of {@linkcode QueueController}. */
export interface QueueControllerOptions {
  /** the clock retries wait on (default: the system clock) */
  clock?: Clock;
  /** first retry after a failed reconcile, and the delay when one asks to run again (default 1 s) */
  retryMs?: number;
  /** the longest retry delay after failures in a row (default 5 min) */
  maxRetryMs?: number;
}

/** A controller that reconciles the keys of one work queue; see the module documentation. */
export abstract class QueueController {
  /** the keys to reconcile */
  protected readonly queue: WorkQueue;

  /** `name` starts the controller's log lines, e.g. `"replicaset controller"`. */
  constructor(name: string, options: QueueControllerOptions) {
    this.queue = new WorkQueue({
      reconcile: (key) => this.reconcile(key),
      onError: (key, e) => console.error(`${name}: sync ${key}:`, e),
      retryMs: options.retryMs ?? 1000,
      maxRetryMs: options.maxRetryMs ?? 300_000,
      clock: options.clock ?? systemClock,
    });
  }

  /** Starts the worker (the informers are started by whoever shares them). */
  start(): void {
    this.queue.start();
  }

  /** Stops the worker, once the reconcile it is in has finished. */
  async stop(): Promise<void> {
    await this.queue.stop();
  }

  /** Converge one key; true when it must be looked at again after `retryMs`. */
  abstract reconcile(key: string): Promise<boolean>;
}

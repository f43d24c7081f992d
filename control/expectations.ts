/**
 * `ControllerExpectations`: what a controller has asked for and not yet seen, per controller key
 * (Kubernetes' `ControllerExpectations` with `UIDTrackingControllerExpectations`).
 *
 * A controller decides from its view of the world, and that view (a watch) lags its own writes.
 * After asking for N creations it must not act on that key again until it has observed the N
 * pods (or a timeout has passed), or a slow watch makes it count too few pods and create them
 * twice. The same holds for deletions. So:
 *
 * - before creating or deleting, the controller records what it expects
 *   (`expectCreations(key, n)`, `expectDeletions(key, uids)`);
 * - its watch handlers lower the expectation as events arrive (`creationObserved(key)` when a pod
 *   it controls appears, `deletionObserved(key, uid)` when one gets a `deletionTimestamp` or
 *   goes away), and so does the controller for requests that failed or were never sent (their
 *   events will never come);
 * - `reconcile(key)` only creates or deletes when `satisfied(key)`; it still computes and writes
 *   status every time.
 *
 * An expectation is satisfied once everything expected was observed, when it was never set (a
 * new controller, or one whose key was deleted), or when it is older than the TTL (5 minutes by
 * default): a lost watch event then delays the controller, it never stalls it. Setting new
 * expectations for a key replaces the old ones and restarts the TTL.
 *
 * Deletions are best tracked by uid: a pod whose deletion was seen twice (its `deletionTimestamp`
 * appearing, then the delete itself) counts once, and a pod the controller did not delete does
 * not count at all.
 *
 * @example
 * ```ts
 * const expectations = new ControllerExpectations({ clock });
 * // reconcile("default/web"):
 * if (expectations.satisfied(key)) {
 *   expectations.expectCreations(key, 3);
 *   // … POST three pods …
 * }
 * // pod watch, for each pod added with a controller reference to default/web:
 * expectations.creationObserved(key);
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "../storage/clock.ts";

/** How long expectations hold before a controller acts anyway (`ExpectationsTimeout`). */
export const EXPECTATIONS_TIMEOUT_MS = 5 * 60 * 1000;

/** Options of {@linkcode ControllerExpectations}. */
export interface ControllerExpectationsOptions {
  /** the clock the TTL is measured on (default: the system clock) */
  clock?: Clock;
  /** how long expectations hold (default {@linkcode EXPECTATIONS_TIMEOUT_MS}) */
  ttlMs?: number;
}

/** What is still expected for one key. */
export interface PendingExpectations {
  /** creations not yet observed (0 or less: none) */
  add: number;
  /** deletions not yet observed (0 or less: none) */
  del: number;
}

interface _Entry extends PendingExpectations {
  /** the ids of the expected deletions not yet observed; undefined when counted by number */
  ids: Set<string> | undefined;
  /** when the expectations were set (ms) */
  setAt: number;
}

/** Creations and deletions each controller key waits for; see the module doc. */
export class ControllerExpectations {
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #entries = new Map<string, _Entry>();

  constructor(options: ControllerExpectationsOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#ttlMs = options.ttlMs ?? EXPECTATIONS_TIMEOUT_MS;
  }

  /** Expect `count` creations for `key`, replacing what it expected before. */
  expectCreations(key: string, count: number): void {
    _checkCount("creations", key, count);
    this.#set(key, count, 0, undefined);
  }

  /**
   * Expect deletions for `key`, replacing what it expected before: of the pods with these ids
   * (uids), each counting once when {@linkcode deletionObserved} names it, or of `count` pods,
   * each {@linkcode deletionObserved} counting one.
   */
  expectDeletions(key: string, idsOrCount: Iterable<string> | number): void {
    if (typeof idsOrCount === "number") {
      _checkCount("deletions", key, idsOrCount);
      this.#set(key, 0, idsOrCount, undefined);
      return;
    }
    const ids = new Set(idsOrCount);
    this.#set(key, 0, ids.size, ids);
  }

  /**
   * Count `count` (default 1) expected creations of `key` as done: observed, failed, or never
   * attempted. Does nothing when `key` expects nothing.
   */
  creationObserved(key: string, count = 1): void {
    _checkCount("observed creations", key, count);
    const entry = this.#entries.get(key);
    if (entry) entry.add -= count;
  }

  /**
   * Count one expected deletion of `key` as done: observed, or failed. When the deletions were
   * expected by id, only an `id` still expected counts (once); when by number, any call counts.
   */
  deletionObserved(key: string, id?: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    if (entry.ids) {
      if (id === undefined || !entry.ids.delete(id)) return;
    }
    entry.del--;
  }

  /**
   * True when `key` may act: everything it expected was observed, it never expected anything
   * (or was deleted), or its expectations are older than the TTL.
   */
  satisfied(key: string): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return true;
    if (entry.add <= 0 && entry.del <= 0) return true;
    return this.#clock.now() - entry.setAt > this.#ttlMs;
  }

  /** What `key` still expects, or undefined when it has no expectations. */
  pending(key: string): PendingExpectations | undefined {
    const entry = this.#entries.get(key);
    return entry && { add: entry.add, del: entry.del };
  }

  /** Forget `key` (its controller object is gone). */
  delete(key: string): void {
    this.#entries.delete(key);
  }

  #set(key: string, add: number, del: number, ids: Set<string> | undefined): void {
    this.#entries.set(key, { add, del, ids, setAt: this.#clock.now() });
  }
}

function _checkCount(what: string, key: string, count: number): void {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(
      `Cannot count ${count} ${what} for '${key}': the count must be a whole number, 0 or more`,
    );
  }
}

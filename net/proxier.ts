/**
 * The service proxy loop: level-based, like kube-proxy's. {@linkcode Proxier.update} hands
 * over the current Services and Endpoints and marks the proxy dirty; a sync (at most one per
 * `minSyncIntervalMs`) computes the {@linkcode ProxyState}, renders the whole table the
 * first time and after any failed apply, only the difference to the last applied state
 * otherwise, and applies it through a {@linkcode Firewall} as one transaction. An unchanged
 * state writes nothing. A failed sync is retried in the background (after `retryIntervalMs`,
 * doubling up to 30 s) with a full render.
 *
 * @example
 * ```ts
 * const proxier = new Proxier({ firewall: new NftFirewall(), node });
 * proxier.update(services, endpoints); // from the agent's watches, on every change
 * // …
 * await proxier.stop({ removeTable: true }); // on uninstall
 * ```
 *
 * @module
 */

import type { Endpoints } from "../storage/kinds/endpoints.ts";
import type { Service } from "../storage/kinds/service.ts";
import { type Clock, systemClock } from "../storage/clock.ts";
import type { Firewall } from "./firewall.ts";
import { needsFullRender, renderDiff, renderFull } from "./nft_render.ts";
import {
  buildProxyState,
  ProxyModelCache,
  type ProxyNode,
  type ProxyState,
} from "./proxy_model.ts";

const MAX_RETRY_MS = 30_000;

/** Options of {@linkcode Proxier}. */
export interface ProxierOptions {
  firewall: Firewall;
  node: ProxyNode;
  clock?: Clock;
  /** the least time between two syncs, so a burst of updates becomes one write (default 10) */
  minSyncIntervalMs?: number;
  /** the wait before retrying a failed sync (default 1000); it doubles per failure up to 30 s */
  retryIntervalMs?: number;
  /** told whenever the list of skipped objects changes (default: `console.warn`) */
  onProblems?: (problems: readonly string[]) => void;
  /** told about every failed sync of the background loop (default: `console.error`) */
  onError?: (error: unknown) => void;
}

/** What one sync did. */
export interface SyncResult {
  /** `full`: the table was replaced; `diff`: only changes were written; `unchanged`: nothing */
  mode: "full" | "diff" | "unchanged";
  /** the script's length (ASCII, so bytes; 0 when unchanged) */
  bytes: number;
}

/** Keeps the proxy table in line with the latest Services and Endpoints. */
export class Proxier {
  readonly #firewall: Firewall;
  readonly #clock: Clock;
  readonly #minInterval: number;
  readonly #retryInterval: number;
  readonly #onProblems: (problems: readonly string[]) => void;
  readonly #onError: (error: unknown) => void;
  #node: ProxyNode;
  #services: readonly Service[] = [];
  #endpoints: readonly Endpoints[] = [];
  #applied: ProxyState | undefined;
  #problems = "";
  #dirty = false;
  #notBefore = -Infinity;
  #failures = 0;
  #loop: Promise<void> | undefined;
  #busy: Promise<unknown> = Promise.resolve();
  #stopped = false;
  readonly #abort = new AbortController();
  readonly #cache = new ProxyModelCache();

  constructor(options: ProxierOptions) {
    this.#firewall = options.firewall;
    this.#node = options.node;
    this.#clock = options.clock ?? systemClock;
    this.#minInterval = options.minSyncIntervalMs ?? 10;
    this.#retryInterval = options.retryIntervalMs ?? 1000;
    this.#onProblems = options.onProblems ??
      ((p) => p.length > 0 && console.warn(`proxy: skipped:\n  ${p.join("\n  ")}`));
    this.#onError = options.onError ?? ((e) => console.error("proxy: sync failed:", e));
  }

  /** The state the firewall holds now (undefined before the first sync and after a failure). */
  get applied(): ProxyState | undefined {
    return this.#applied;
  }

  /** Replace the proxy's view of the cluster and schedule a sync. */
  update(services: readonly Service[], endpoints: readonly Endpoints[]): void {
    this.#services = services;
    this.#endpoints = endpoints;
    this.#markDirty();
  }

  /** Replace the node's settings (CIDRs, addresses) and schedule a sync. */
  setNode(node: ProxyNode): void {
    this.#node = node;
    this.#markDirty();
  }

  /** Resolves once no sync is pending or running (failed syncs waiting to retry count as pending). */
  async idle(): Promise<void> {
    while (this.#loop) await this.#loop;
    await this.#busy;
  }

  /**
   * Sync now, serialised with the background loop (useful to await a write; the agent only
   * needs {@linkcode Proxier.update}). Rejects when the firewall refuses the script; the
   * background loop then retries, and the next sync renders the whole table.
   */
  sync(): Promise<SyncResult> {
    return this.#serialised(() => this.#syncNow());
  }

  /** Stop syncing; with `removeTable`, delete the proxy table (uninstall). */
  async stop(options: { removeTable?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    await this.#loop;
    await this.#busy;
    if (options.removeTable) {
      await this.#firewall.remove();
      this.#applied = undefined;
    }
  }

  #markDirty(): void {
    this.#dirty = true;
    if (this.#stopped || this.#loop) return;
    this.#loop = this.#run().finally(() => {
      this.#loop = undefined;
    });
  }

  async #run(): Promise<void> {
    await Promise.resolve(); // let the caller's other updates of this tick land first
    while (this.#dirty && !this.#stopped) {
      const wait = this.#notBefore - this.#clock.now();
      if (wait > 0) await this.#clock.sleep(wait, this.#abort.signal);
      if (this.#stopped) return;
      try {
        await this.#serialised(async () => {
          if (this.#dirty && this.#clock.now() >= this.#notBefore) await this.#syncNow();
        });
      } catch (e) {
        this.#onError(e);
      }
    }
  }

  #serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#busy.then(fn);
    this.#busy = run.catch(() => {});
    return run;
  }

  async #syncNow(): Promise<SyncResult> {
    if (this.#stopped) throw new Error("proxy: cannot sync, the proxier is stopped");
    this.#dirty = false;
    const startedAt = this.#clock.now();
    try {
      const result = await this.#write();
      this.#failures = 0;
      this.#notBefore = startedAt + this.#minInterval;
      return result;
    } catch (e) {
      this.#applied = undefined;
      this.#failures++;
      const backoff = this.#retryInterval * 2 ** Math.min(this.#failures - 1, 10);
      this.#notBefore = this.#clock.now() + Math.min(backoff, MAX_RETRY_MS);
      this.#markDirty();
      throw e;
    }
  }

  async #write(): Promise<SyncResult> {
    const next = buildProxyState(this.#services, this.#endpoints, this.#node, this.#cache);
    const problems = next.problems.join("\n");
    if (problems !== this.#problems) {
      this.#problems = problems;
      this.#onProblems(next.problems);
    }
    const old = this.#applied;
    const full = old === undefined || needsFullRender(old, next);
    const script = full ? renderFull(next) : renderDiff(old, next);
    if (script === "") return { mode: "unchanged", bytes: 0 };
    this.#applied = undefined;
    await this.#firewall.apply(script);
    this.#applied = next;
    return { mode: full ? "full" : "diff", bytes: script.length };
  }
}

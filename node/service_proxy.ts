/**
 * The agent's service proxy (kube-proxy's job): feeds the agent's Service and Endpoints
 * caches to a {@linkcode Proxier}, which keeps the nftables table `ip edge-proxy` in line.
 *
 * Nothing is written before both caches are synced (listed from the API, or loaded from the
 * copy the agent kept, so a node cut off from the control plane still programs the last known
 * rules after a restart): an empty view would wipe the rules of a running node. A burst of
 * changes becomes one {@linkcode Proxier.update}; the Proxier itself writes only differences.
 *
 * @module
 */

import type { KubeObject } from "../storage/object.ts";
import type { Endpoints } from "../storage/kinds/endpoints.ts";
import type { Service } from "../storage/kinds/service.ts";
import type { Clock } from "../storage/clock.ts";
import type { Firewall } from "../net/firewall.ts";
import { Proxier } from "../net/proxier.ts";
import type { ProxyNode } from "../net/proxy_model.ts";
import type { ObjectCache } from "./object_cache.ts";

/** Options of {@linkcode ServiceProxy}. */
export interface ServiceProxyOptions {
  services: ObjectCache;
  endpoints: ObjectCache;
  /** the node's settings now (name, addresses, cluster and service CIDRs) */
  node: () => ProxyNode;
  firewall: Firewall;
  clock?: Clock;
  /** how long start waits for the caches before the first sync (default 30 s, then it waits on) */
  syncWaitMs?: number;
}

/** Keeps this node's service rules current; see the module documentation. */
export class ServiceProxy {
  readonly #o: ServiceProxyOptions;
  readonly #proxier: Proxier;
  readonly #abort = new AbortController();
  readonly #unsubscribe: Array<() => void> = [];
  #scheduled = false;
  #ready = false;
  #starting: Promise<void> | undefined;

  constructor(options: ServiceProxyOptions) {
    this.#o = options;
    this.#proxier = new Proxier({
      firewall: options.firewall,
      node: options.node(),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  /** The Proxier (tests await {@linkcode Proxier.idle} on it). */
  get proxier(): Proxier {
    return this.#proxier;
  }

  /** Follow the caches; the first sync happens once both are synced. */
  start(): void {
    const onChange = () => this.#schedule();
    this.#unsubscribe.push(this.#o.services.subscribe(onChange));
    this.#unsubscribe.push(this.#o.endpoints.subscribe(onChange));
    this.#starting = this.#waitAndSync();
  }

  /** Resolves once the first sync has been asked for (or start gave up on stop). */
  get started(): Promise<void> {
    return this.#starting ?? Promise.resolve();
  }

  /** The node's settings changed (addresses, CIDRs): resync. */
  refreshNode(): void {
    this.#proxier.setNode(this.#o.node());
  }

  /**
   * Stop following the caches. The rules stay (pods keep reaching services while the agent
   * restarts) unless `removeTable` asks for an uninstall.
   */
  async stop(options: { removeTable?: boolean } = {}): Promise<void> {
    this.#abort.abort();
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    await this.#starting;
    await this.#proxier.stop(options);
  }

  async #waitAndSync(): Promise<void> {
    const signal = this.#abort.signal;
    const wait = this.#o.syncWaitMs ?? 30_000;
    for (
      const [what, cache] of [["Services", this.#o.services], [
        "Endpoints",
        this.#o.endpoints,
      ]] as const
    ) {
      while (!signal.aborted && !await cache.waitSynced(wait, signal)) {
        console.log(`agent: service proxy: still waiting for the list of ${what}`);
      }
    }
    if (signal.aborted) return;
    this.#ready = true;
    this.#push();
  }

  #schedule(): void {
    if (!this.#ready || this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      if (!this.#abort.signal.aborted) this.#push();
    });
  }

  #push(): void {
    this.#proxier.update(
      this.#o.services.list() as KubeObject[] as Service[],
      this.#o.endpoints.list() as KubeObject[] as Endpoints[],
    );
  }
}

/**
 * {@linkcode LeaderElection}: the controllers run only in the control-plane process that holds a
 * coordination.k8s.io Lease (client-go's leaderelection, in small), so that running more
 * control-plane replicas later needs no change in the controllers.
 *
 * The holder renews the Lease every `retryMs`; a candidate takes it over when it has not been
 * renewed for `leaseDurationSeconds`. Every write is a compare-and-swap on the Lease's
 * resourceVersion, so two candidates never both win. A leader that cannot renew for a whole
 * lease duration stops leading (its `lead` callback's signal aborts) and becomes a candidate.
 *
 * @example
 * ```ts
 * const election = new LeaderElection({ store, identity: "cp-1" });
 * election.run(async (signal) => {
 *   await controllers.start();
 *   await new Promise((resolve) => signal.addEventListener("abort", resolve));
 *   await controllers.stop();
 * });
 * // …
 * await election.stop();
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "../storage/clock.ts";
import type { KubeObject } from "../storage/object.ts";
import { findKind } from "../storage/registry.ts";
import { ApiError } from "../storage/status.ts";
import type { Store } from "../storage/store.ts";
import { microTime } from "../storage/time.ts";
import { Objects } from "./api/objects.ts";

const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;

/** Options of {@linkcode LeaderElection}. */
export interface LeaderElectionOptions {
  store: Store;
  /** who this process is (`holderIdentity`) */
  identity: string;
  /** the Lease (default `kube-system/edge-controller-manager`) */
  namespace?: string;
  name?: string;
  /** how long a Lease holds without renewal (default 15 s, kube-controller-manager's) */
  leaseDurationSeconds?: number;
  /** how often to renew, or to try to acquire (default 2 s) */
  retryMs?: number;
  clock?: Clock;
}

/** Acquires and keeps a Lease; see the module documentation. */
export class LeaderElection {
  readonly #objects: Objects;
  readonly #o: Required<Omit<LeaderElectionOptions, "store">>;
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;

  constructor(options: LeaderElectionOptions) {
    this.#objects = new Objects(options.store);
    this.#o = {
      identity: options.identity,
      namespace: options.namespace ?? "kube-system",
      name: options.name ?? "edge-controller-manager",
      leaseDurationSeconds: options.leaseDurationSeconds ?? 15,
      retryMs: options.retryMs ?? 2000,
      clock: options.clock ?? systemClock,
    };
  }

  /**
   * Campaigns until stopped; each time the Lease is won, calls `lead` with a signal that aborts
   * when leadership is lost or the election stops. Resolves once stopped and `lead` has ended.
   */
  run(lead: (signal: AbortSignal) => Promise<void>): Promise<void> {
    this.#running ??= this.#campaign(lead);
    return this.#running;
  }

  /**
   * Stops campaigning and leading; once `lead` has returned, gives the Lease up (so another
   * candidate need not wait for it to expire). Resolves when all that is done.
   */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  async #campaign(lead: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const { clock, retryMs } = this.#o;
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      if (await this.#tryAcquireOrRenew()) {
        const term = new AbortController();
        const onStop = () => term.abort();
        stop.addEventListener("abort", onStop, { once: true });
        const leading = lead(term.signal).catch((e) => {
          console.error("leader election: the leader's work failed:", e);
        });
        let renewed = clock.now();
        while (!term.signal.aborted) {
          await clock.sleep(retryMs, term.signal);
          if (term.signal.aborted) break;
          if (await this.#tryAcquireOrRenew()) renewed = clock.now();
          else if (clock.now() - renewed >= this.#o.leaseDurationSeconds * 1000) {
            console.error(`leader election: lost ${this.#leaseName()}`);
            term.abort();
          }
        }
        stop.removeEventListener("abort", onStop);
        await leading;
        if (stop.aborted) await this.#release();
      }
      await clock.sleep(retryMs, stop);
    }
  }

  /** Gives the Lease up if this process still holds it (client-go's ReleaseOnCancel). */
  async #release(): Promise<void> {
    const rt = findKind("coordination.k8s.io/v1", "Lease")!;
    const { namespace, name, identity } = this.#o;
    try {
      const lease = await this.#objects.get(rt, namespace, name);
      const spec = (lease.spec ?? {}) as Record<string, unknown>;
      if (spec.holderIdentity !== identity) return;
      const { holderIdentity: _, ...rest } = spec;
      const released = { ...rest, leaseDurationSeconds: 1, renewTime: microTime(0) };
      await this.#objects.update(rt, namespace, name, { ...lease, spec: released }, WRITE);
    } catch (e) {
      console.error(`leader election: releasing ${this.#leaseName()}:`, e);
    }
  }

  #leaseName(): string {
    return `lease ${this.#o.namespace}/${this.#o.name}`;
  }

  /** One attempt: create, renew or take over the Lease; true when this process holds it. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const rt = findKind("coordination.k8s.io/v1", "Lease");
    if (!rt) throw new Error("Cannot elect a leader: the Lease kind is not served");
    const { namespace, name, identity, leaseDurationSeconds, clock } = this.#o;
    const now = microTime(clock.now());
    try {
      let lease: KubeObject;
      try {
        lease = await this.#objects.get(rt, namespace, name);
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== 404) throw e;
        await this.#objects.create(rt, namespace, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        }, WRITE);
        return true;
      }
      const spec = (lease.spec ?? {}) as Record<string, unknown>;
      const held = spec.holderIdentity === identity;
      const renewed = Date.parse(String(spec.renewTime ?? spec.acquireTime ?? ""));
      const duration = Number(spec.leaseDurationSeconds ?? leaseDurationSeconds);
      const expired = !Number.isFinite(renewed) || clock.now() - renewed >= duration * 1000;
      if (!held && !expired && spec.holderIdentity) return false;
      const next = held ? { ...spec, renewTime: now, leaseDurationSeconds } : {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: Number(spec.leaseTransitions ?? 0) + 1,
      };
      // the resourceVersion in the body makes this a compare-and-swap
      await this.#objects.update(rt, namespace, name, { ...lease, spec: next }, WRITE);
      return true;
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 409)) {
        console.error(`leader election: ${this.#leaseName()}:`, e);
      }
      return false;
    }
  }
}

/**
 * {@linkcode NodeIpamController}: gives every Node a pod CIDR (`spec.podCIDR` and
 * `spec.podCIDRs`) from the cluster CIDR, one node CIDR each (a /24 of 10.244.0.0/16 by
 * default), as kube-controller-manager's node IPAM controller (range allocator) does. The
 * agent builds its pod network on it.
 *
 * - A Node keeps the CIDR it has (even one outside the cluster CIDR, which is then left alone).
 * - Crash-safe with {@linkcode StoreClaims}: the CIDRs in use are those the Nodes in the store
 *   hold, listed at start and followed by watch; one being assigned is reserved until the watch
 *   shows the Node holding it. A deleted Node's CIDR is free once the deletion is seen.
 * - The write is a compare-and-swap on the Node's resourceVersion (a Node that got a CIDR
 *   meanwhile keeps it); a lost race is retried.
 * - When the cluster CIDR is used up the Node waits: an Event `CIDRNotAvailable` on it and a log
 *   line, then another try when a Node goes away (and every `fullRetryMs`).
 *
 * It runs with the other controllers, only while this process holds the leader Lease.
 *
 * @module
 */

import { type Clock, systemClock } from "../../storage/clock.ts";
import { isPlainObject, type KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import type { Cidr } from "../allocators/cidr.ts";
import { AllocationError, RangeAllocator } from "../allocators/range_allocator.ts";
import { StoreClaims } from "../allocators/store_claims.ts";
import { Objects } from "../api/objects.ts";
import type { EventRecorder } from "../events.ts";
import { QueueController } from "../queue_controller.ts";
import { NodeCidrSpace } from "./node_cidrs.ts";

const CIDR = "cidr";
const PREFIX = "/core/nodes/";

/** Options of {@linkcode NodeIpamController}. */
export interface NodeIpamControllerOptions {
  store: Store;
  /** the cluster (pod) CIDR, e.g. 10.244.0.0/16 */
  clusterCidr: Cidr;
  /** the prefix length of each Node's CIDR, e.g. 24 */
  nodeCidrMaskSize: number;
  /** where `CIDRNotAvailable` Events go (none when absent) */
  events?: EventRecorder;
  /** delay before a Node whose write lost a race is tried again (default 1 s) */
  retryMs?: number;
  /** delay before a Node that found no free CIDR is tried again (default 30 s) */
  fullRetryMs?: number;
  clock?: Clock;
}

/** The pod CIDRs a Node has (`spec.podCIDRs`, else `spec.podCIDR`). */
export function podCidrsOf(node: KubeObject): string[] {
  const spec = isPlainObject(node.spec) ? node.spec : {};
  if (Array.isArray(spec.podCIDRs) && spec.podCIDRs.length > 0) {
    return spec.podCIDRs.filter((c): c is string => typeof c === "string");
  }
  return typeof spec.podCIDR === "string" && spec.podCIDR !== "" ? [spec.podCIDR] : [];
}

/** Assigns pod CIDRs to Nodes; see the module documentation. */
export class NodeIpamController extends QueueController {
  readonly #store: Store;
  readonly #objects: Objects;
  readonly #space: NodeCidrSpace;
  readonly #claims: StoreClaims;
  readonly #events: EventRecorder | undefined;
  readonly #fullRetryMs: number;
  /** Nodes that found the range full, tried again when a CIDR may have been freed */
  readonly #waiting = new Set<string>();

  constructor(options: NodeIpamControllerOptions) {
    super("node ipam controller", { ...options, maxRetryMs: 30_000 });
    this.#store = options.store;
    const clock = options.clock ?? systemClock;
    this.#objects = new Objects(options.store, () => new Date(clock.now()));
    this.#space = new NodeCidrSpace(options.clusterCidr, options.nodeCidrMaskSize);
    this.#events = options.events;
    this.#fullRetryMs = options.fullRetryMs ?? 30_000;
    this.#claims = new StoreClaims({
      store: options.store,
      prefix: PREFIX,
      name: "node ipam controller",
      pools: { [CIDR]: new RangeAllocator(this.#space.count, { strategy: "sequential" }) },
      slotsOf: (node) => ({
        [CIDR]: podCidrsOf(node).flatMap((c) => this.#space.slotOf(c) ?? []),
      }),
      onChange: (key, node) => this.#changed(key, node),
      clock,
    });
  }

  /** Lists the Nodes (queueing those without a CIDR), then follows them and starts the worker. */
  override async start(): Promise<void> {
    await this.#claims.start();
    super.start();
  }

  /** Stops the worker and the watch. */
  override async stop(): Promise<void> {
    await super.stop();
    await this.#claims.stop();
  }

  /** How many node CIDRs are in use (or being assigned). */
  get used(): number {
    return this.#claims.used(CIDR);
  }

  /** Give Node `name` a CIDR if it has none; true when it must be tried again. */
  override async reconcile(name: string): Promise<boolean> {
    const node = await this.#store.get(`${PREFIX}${name}`);
    if (!node || node.metadata.deletionTimestamp || podCidrsOf(node).length > 0) {
      this.#waiting.delete(name);
      return false;
    }
    const reservation = this.#claims.reserve();
    let cidr: string;
    try {
      cidr = this.#space.cidrAt(reservation.takeNext(CIDR));
    } catch (e) {
      if (!(e instanceof AllocationError && e.code === "Full")) throw e;
      await this.#full(node);
      return false;
    }
    this.#waiting.delete(name);
    try {
      const { object } = await this.#objects.patch(
        findKind("v1", "Node")!,
        undefined,
        name,
        "application/merge-patch+json",
        {
          metadata: { resourceVersion: node.metadata.resourceVersion },
          spec: { podCIDR: cidr, podCIDRs: [cidr] },
        },
        { fieldValidation: "Ignore", dryRun: false },
      );
      reservation.commit(Number(object.metadata.resourceVersion));
      return false;
    } catch (e) {
      reservation.abort();
      if (e instanceof ApiError && e.reason === "Conflict") return true;
      if (e instanceof ApiError && e.reason === "NotFound") return false;
      throw e;
    }
  }

  async #full(node: KubeObject): Promise<void> {
    const name = node.metadata.name!;
    const message =
      `Node ${name} status is now: CIDRNotAvailable (every /${this.#space.maskSize} ` +
      `of ${this.#space.cluster.text} is in use)`;
    if (!this.#waiting.has(name)) console.error(`node ipam controller: ${message}`);
    this.#waiting.add(name);
    await this.#events?.record(node, "Warning", "CIDRNotAvailable", message);
    this.queue.addAfter(name, this.#fullRetryMs);
  }

  #changed(key: string, node: KubeObject | undefined): void {
    if (node) {
      if (podCidrsOf(node).length === 0 && !node.metadata.deletionTimestamp) {
        this.queue.add(node.metadata.name!);
      }
      return;
    }
    this.#waiting.delete(key.slice(PREFIX.length));
    // a CIDR may be free now: the Nodes waiting for one try again
    for (const name of this.#waiting) this.queue.add(name);
  }
}

/**
 * Node registration and heartbeats: create (or refresh) this agent's Node, then renew its
 * coordination.k8s.io Lease in `kube-node-lease` every 10 s and post node status when it
 * changes (and at least every 5 minutes), like kubelet.
 *
 * Failures to reach the control plane are retried quietly: an agent cut off from the control
 * plane keeps running its pods (edge autonomy) and catches up when it is back.
 *
 * @module
 */

import { microTime } from "../storage/time.ts";
import { type Clock, systemClock } from "../storage/clock.ts";
import { isPlainObject, type KubeObject } from "../storage/object.ts";
import { ApiError } from "../storage/status.ts";
import type { ApiClient } from "./api_client.ts";

/** Options of {@linkcode NodeHeartbeat}. */
export interface HeartbeatOptions {
  client: ApiClient;
  nodeName: string;
  /** builds the Node object to post (fresh machine facts, images, conditions) */
  node: (now: string) => Promise<KubeObject> | KubeObject;
  clock?: Clock;
  /** lease renew interval (default 10 s) */
  renewMs?: number;
  /** lease duration in seconds (default 40, kubelet's) */
  leaseSeconds?: number;
  /** post node status at least this often even when unchanged (default 5 min) */
  statusEveryMs?: number;
}

function seconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Keeps the Node registered and the Lease renewed until stopped. */
export class NodeHeartbeat {
  readonly #o: HeartbeatOptions;
  readonly #clock: Clock;
  readonly #abort = new AbortController();
  #done: Promise<void> | undefined;
  #first: Promise<void> | undefined;
  #lastStatus = "";
  #lastStatusAt = 0;
  #registered = false;
  #lastConditions: Condition[] = [];

  constructor(options: HeartbeatOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Whether the Node has been registered at least once. */
  get registered(): boolean {
    return this.#registered;
  }

  /**
   * Register, then keep beating. With `waitForRegistration` (the default) the first beat must
   * succeed (it throws when the control plane cannot be reached); without it the first beat
   * runs in the background and failures are retried like any later beat.
   */
  async start(waitForRegistration = true): Promise<void> {
    if (waitForRegistration) await this.beat();
    else this.#first = this.beat().catch(() => {});
    this.#done = this.#loop();
  }

  /** Stop the loop. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#first;
    await this.#done;
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      await this.#clock.sleep(this.#o.renewMs ?? 10_000, signal);
      if (signal.aborted) break;
      try {
        await this.beat();
      } catch {
        // The control plane is unreachable: keep going, pods keep running.
      }
    }
  }

  /** One heartbeat: register or update the Node status if needed, renew the Lease. */
  async beat(): Promise<void> {
    const now = this.#clock.now();
    await this.#postNode(now);
    await this.#renewLease(now);
  }

  async #postNode(now: number): Promise<void> {
    const path = `/api/v1/nodes/${this.#o.nodeName}`;
    // Compared with the API's copy, as kubelet does: when the node controller has marked the
    // node Unknown (the control plane lost touch with us), the truth is posted at once.
    const current = await this.#o.client.get(path);
    if (current) this.#lastConditions = conditionsOf(current);
    const desired = this.#keepTransitionTimes(await this.#o.node(seconds(now)));
    if (!current && !this.#registered) {
      await this.#o.client.create("/api/v1/nodes", desired);
      this.#registered = true;
      this.#remember(desired, now);
      return;
    }
    const fingerprint = statusFingerprint(desired);
    const due = now - this.#lastStatusAt >= (this.#o.statusEveryMs ?? 300_000);
    const stored = current ? statusFingerprint(current) : undefined;
    if (fingerprint === this.#lastStatus && fingerprint === stored && !due) return;
    if (current && !this.#registered) {
      // labels and annotations this agent sets (its serving CA may be new); others stay
      const labels = { ...(current.metadata.labels ?? {}), ...(desired.metadata.labels ?? {}) };
      const annotations = desired.metadata.annotations ?? {};
      await this.#o.client.patch(path, { metadata: { labels, annotations } });
    }
    this.#registered = true;
    await this.#o.client.patch(`${path}/status`, { status: desired.status });
    this.#remember(desired, now);
  }

  #remember(node: KubeObject, now: number): void {
    this.#lastStatus = statusFingerprint(node);
    this.#lastStatusAt = now;
    this.#lastConditions = conditionsOf(node);
  }

  /** A condition whose status did not change keeps its lastTransitionTime. */
  #keepTransitionTimes(node: KubeObject): KubeObject {
    const before = new Map(this.#lastConditions.map((c) => [c.type, c]));
    for (const c of conditionsOf(node)) {
      const prev = before.get(c.type);
      if (prev && prev.status === c.status) c.lastTransitionTime = prev.lastTransitionTime;
    }
    return node;
  }

  async #renewLease(now: number): Promise<void> {
    const ns = "kube-node-lease";
    const path = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${this.#o.nodeName}`;
    const spec = {
      holderIdentity: this.#o.nodeName,
      leaseDurationSeconds: this.#o.leaseSeconds ?? 40,
      renewTime: microTime(now),
    };
    try {
      await this.#o.client.patch(path, { spec });
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === "NotFound")) throw e;
      await this.#o.client.create(`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.#o.nodeName, namespace: ns },
        spec: { ...spec, acquireTime: microTime(now) },
      });
    }
  }
}

interface Condition {
  type: string;
  status: string;
  lastTransitionTime?: string;
}

function conditionsOf(node: KubeObject): Condition[] {
  const status = isPlainObject(node.status) ? node.status : {};
  return Array.isArray(status.conditions) ? status.conditions as Condition[] : [];
}

/** The parts of a Node's status whose change is worth a write (not heartbeat times). */
function statusFingerprint(node: KubeObject): string {
  const status = isPlainObject(node.status) ? { ...node.status } : {};
  if (Array.isArray(status.conditions)) {
    status.conditions = status.conditions.map((c) =>
      isPlainObject(c) ? { type: c.type, status: c.status, reason: c.reason } : c
    );
  }
  return JSON.stringify(status);
}

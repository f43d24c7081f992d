/**
 * `NodeNetwork`: the agent's side of the pod network. It follows the Nodes (an
 * {@linkcode ObjectCache}) and converges, level-based, on:
 *
 * - this node's pod network: a podman bridge network on the node's `spec.podCIDR` (assigned by
 *   the control plane's node IPAM controller), made or checked with `ensurePodNetwork`
 *   (`net/pod_network.ts`); new pod sandboxes join it ({@linkcode NodeNetwork.podNetwork});
 * - routes to the other nodes' pod CIDRs via their InternalIPs (`net/routes.ts`), so pods
 *   reach each other across nodes by their own IPs.
 *
 * Failures (podman refusing, a next hop that cannot be reached) are logged once per distinct
 * message and retried; the agent and its pods keep running meanwhile. Until the pod network
 * exists, sandboxes join podman's default network, and pods already there keep running.
 *
 * @module
 */

import { type Clock, systemClock } from "../storage/clock.ts";
import type { KubeObject } from "../storage/object.ts";
import {
  ensurePodNetwork,
  parseNetworks,
  type PodmanRunner,
  podNetworkName,
  podNetworkSpec,
} from "../net/pod_network.ts";
import {
  applyRoutes,
  type CommandRunner,
  desiredRoutes,
  type NodeRouteInfo,
  type Route,
} from "../net/routes.ts";
import type { ObjectCache } from "./object_cache.ts";

/** Options of {@linkcode NodeNetwork}. */
export interface NodeNetworkOptions {
  nodeName: string;
  /** the cluster CIDR, read at each pass (routes are only ever made inside it) */
  clusterCidr: () => string;
  /** every Node of the cluster (an {@linkcode ObjectCache} of `/api/v1/nodes`) */
  nodes: Pick<ObjectCache, "get" | "list" | "subscribe">;
  /** runs podman (with the agent's containers.conf) */
  podman: PodmanRunner;
  /** runs `ip` for the routes (default: `Deno.Command`) */
  run?: CommandRunner;
  /** where progress and problems go (default console.log) */
  log?: (line: string) => void;
  clock?: Clock;
  /** delay before a failed step is tried again (default 10 s) */
  retryMs?: number;
  /** how often everything is checked again even without a change (default 60 s) */
  resyncMs?: number;
  /** told when the pod network pods join is found or changes */
  onNetwork?: () => void;
}

/** A Node's pod CIDR and InternalIP, as routing needs them. */
export function nodeRouteInfo(node: KubeObject): NodeRouteInfo {
  const spec = (node.spec ?? {}) as { podCIDR?: string };
  const status = (node.status ?? {}) as { addresses?: Array<{ type?: string; address?: string }> };
  const internal = status.addresses?.find((a) => a.type === "InternalIP")?.address;
  return {
    name: node.metadata.name ?? "",
    ...(spec.podCIDR ? { podCIDR: spec.podCIDR } : {}),
    ...(internal ? { internalIP: internal } : {}),
  };
}

/** The pod network and the routes of one node; see the module documentation. */
export class NodeNetwork {
  readonly #o: NodeNetworkOptions;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #abort = new AbortController();
  readonly #name: string;
  #network: string | undefined;
  #networkCidr: string | undefined;
  readonly #said = new Map<string, string>();
  #wake = Promise.withResolvers<void>();
  #loop: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(options: NodeNetworkOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? ((line) => console.log(line));
    this.#name = podNetworkName(options.nodeName);
  }

  /** The podman network new sandboxes join; undefined until it exists (podman's default). */
  get podNetwork(): string | undefined {
    return this.#network;
  }

  /** The subnet of {@linkcode podNetwork}. */
  get networkCidr(): string | undefined {
    return this.#networkCidr;
  }

  /** This node's podCIDR, as far as the Nodes cache knows it. */
  get podCIDR(): string | undefined {
    return this.#ownNode()?.podCIDR;
  }

  /**
   * Use the pod network a previous run left, if podman has it, before the control plane is
   * reached (edge autonomy: pods restarted while it is away stay on the pod network).
   */
  async adoptExisting(): Promise<void> {
    const out = await this.#o.podman(["network", "ls", "--format", "json"]);
    if (out.code !== 0) return;
    const found = parseNetworks(out.stdout).find((n) => n.name === this.#name);
    if (!found) return;
    this.#network = found.name;
    this.#networkCidr = found.subnets[0]?.subnet;
    this.#log(`agent: pod network ${found.name} on ${this.#networkCidr ?? "?"} found`);
    this.#o.onNetwork?.();
  }

  /** Follow the Nodes cache and converge in the background. */
  start(): void {
    this.#unsubscribe = this.#o.nodes.subscribe(() => this.#wake.resolve());
    this.#loop ??= this.#run();
  }

  /**
   * Waits for this node's podCIDR and its pod network, at most `ms`, logging progress every
   * 5 s. Resolves whether the pod network is ready.
   */
  async waitForPodNetwork(ms: number): Promise<boolean> {
    const start = this.#clock.now();
    let reported = start;
    while (!this.#abort.signal.aborted) {
      const cidr = this.podCIDR;
      if (cidr !== undefined && this.#networkCidr === cidr && this.#network) return true;
      const now = this.#clock.now();
      if (now - start >= ms) break;
      if (now - reported >= 5_000) {
        reported = now;
        this.#log(
          cidr === undefined
            ? `agent: waiting for Node ${this.#o.nodeName}'s spec.podCIDR from the control ` +
              `plane (${Math.round((now - start) / 1000)} s)`
            : `agent: waiting for pod network ${this.#name} on ${cidr}`,
        );
      }
      await this.#clock.sleep(200, this.#abort.signal);
    }
    return false;
  }

  /** Stop following the Nodes. Routes and the pod network stay as they are. */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#unsubscribe?.();
    this.#wake.resolve();
    await this.#loop;
  }

  #ownNode(): NodeRouteInfo | undefined {
    const node = this.#o.nodes.get("", this.#o.nodeName);
    return node ? nodeRouteInfo(node) : undefined;
  }

  /** Log `line` unless it is the last thing said about `topic`. */
  #sayOnce(topic: string, line: string): void {
    if (this.#said.get(topic) === line) return;
    this.#said.set(topic, line);
    this.#log(line);
  }

  /** What was said about `topic` no longer holds: say it again if it comes back. */
  #forget(topic: string): void {
    this.#said.delete(topic);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      this.#wake = Promise.withResolvers<void>();
      let ok = true;
      try {
        ok = await this.#reconcile();
        this.#forget("error");
      } catch (e) {
        ok = false;
        this.#sayOnce("error", `agent: node network: ${e instanceof Error ? e.message : e}`);
      }
      if (signal.aborted) break;
      const delay = ok ? this.#o.resyncMs ?? 60_000 : this.#o.retryMs ?? 10_000;
      const stop = new AbortController();
      await Promise.race([this.#wake.promise, this.#clock.sleep(delay, stop.signal)]);
      stop.abort();
    }
  }

  /**
   * One pass: the pod network (checked every time: level-based, so a network removed behind
   * the agent's back comes back), then the routes. Resolves whether everything is in place.
   */
  async #reconcile(): Promise<boolean> {
    const own = this.#ownNode();
    let ok = true;
    if (own?.podCIDR) {
      try {
        const spec = podNetworkSpec(this.#o.nodeName, own.podCIDR);
        const ensured = await ensurePodNetwork(spec, {
          podman: this.#o.podman,
          log: (line) => this.#log(`agent: ${line}`),
        });
        const changed = this.#network !== ensured.name || this.#networkCidr !== ensured.subnet;
        this.#network = ensured.name;
        this.#networkCidr = ensured.subnet;
        if (changed) this.#o.onNetwork?.();
        this.#sayOnce(
          "network",
          `agent: pod network ${ensured.name} on ${ensured.subnet} (gateway ${ensured.gateway}) ` +
            ensured.action,
        );
      } catch (e) {
        ok = false;
        this.#sayOnce("network", `agent: pod network: ${e instanceof Error ? e.message : e}`);
      }
    }
    const nodes = this.#o.nodes.list("").map(nodeRouteInfo);
    const { routes, skipped } = desiredRoutes(
      nodes,
      this.#o.nodeName,
      this.#o.clusterCidr(),
      own?.podCIDR,
    );
    for (const s of skipped) {
      this.#sayOnce(`skip ${s.node}`, `agent: no route to node ${s.node}'s pods: ${s.reason}`);
    }
    for (const n of nodes) {
      if (!skipped.some((s) => s.node === n.name)) this.#forget(`skip ${n.name}`);
    }
    return await this.#applyRoutes(routes) && ok;
  }

  async #applyRoutes(routes: Route[]): Promise<boolean> {
    const result = await applyRoutes(routes, {
      clusterCidr: this.#o.clusterCidr(),
      ...(this.#o.run ? { run: this.#o.run } : {}),
    });
    for (const r of result.replaced) this.#log(`agent: route ${r.dst} via ${r.via}`);
    for (const r of result.removed) this.#log(`agent: route ${r.dst} via ${r.via} removed`);
    if (result.errors.length > 0) {
      this.#sayOnce("routes", `agent: routes: ${result.errors.join("; ")}`);
      return false;
    }
    this.#forget("routes");
    return true;
  }
}

/**
 * {@linkcode CachedRuntime}: one node-wide relist shared by every pod worker, in the manner of
 * kubelet's PLEG. Each worker looks at the runtime about once a second; without this, every
 * look is its own `listSandboxes` + `listContainers` (four podman calls per pod per second).
 * Here those reads are answered from one {@linkcode NodeState} snapshot, taken with
 * {@linkcode ContainerRuntime.listNodeState} at most once per `ttlMs`, so the cost of watching
 * the node no longer grows with the number of pods.
 *
 * - Callers that find the snapshot stale while a refresh is under way share that refresh.
 * - A change (create, start, stop or remove of a sandbox or container) marks its pod changed,
 *   failed or not, so whoever acted reads its own change: a changed pod's next read is one
 *   {@linkcode ContainerRuntime.observePod} of that pod, whose answer is put into the
 *   snapshot. Other pods go on reading the snapshot; a start or a delete does not cost the
 *   whole node a relist.
 * - A refresh under way during a change keeps the pods it saw unchanged; the changed pod stays
 *   changed. A change the cache cannot place (a container id it never saw) drops the snapshot.
 * - A pod absent from the snapshot, however old, and not changed since, has no sandbox: only
 *   this agent makes its node's sandboxes. A new pod's first look costs no runtime call.
 * - Changes nobody asked for (a container exiting) show up within `ttlMs`.
 *
 * Only this node's sandboxes are in the snapshot: `listContainers(uid)` answers for pods whose
 * sandbox carries this node's label, which is every pod the agent runs. Everything else,
 * and `listSandboxes` of another node, goes straight to the wrapped runtime.
 *
 * @example
 * ```ts
 * const runtime = new CachedRuntime({ runtime: podman, node: "edge-1", clock: systemClock });
 * await Promise.all(uids.map((uid) => runtime.listContainers(uid))); // one podman listing
 * ```
 *
 * @module
 */

import type { Clock } from "../storage/clock.ts";
import type {
  ContainerConfig,
  ContainerRuntime,
  ContainerStatus,
  LogOptions,
  NetworkProbe,
  NodeState,
  PodState,
  ProbeOutcome,
  SandboxConfig,
  SandboxStatus,
} from "./runtime.ts";

/** How a {@linkcode CachedRuntime} is wired. */
export interface CachedRuntimeOptions {
  /** the runtime that does the work */
  runtime: ContainerRuntime;
  /** this node's name: the snapshot holds its sandboxes */
  node: string;
  clock: Clock;
  /** how long a snapshot answers reads; default 1000 ms (the workers' relist period) */
  ttlMs?: number;
}

/** The snapshot-sharing runtime decorator; see the module documentation. */
export class CachedRuntime implements ContainerRuntime {
  readonly #runtime: ContainerRuntime;
  readonly #node: string;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  /** the node as last listed (`at`: clock time; `generation`: when the listing began) */
  #snapshot: { at: number; generation: number; state: NodeState } | undefined;
  #refreshing: Promise<NodeState> | undefined;
  /** bumped by every change */
  #generation = 0;
  /** the generation of the last change that dropped the snapshot */
  #dropped = 0;
  /** pod uid → generation of its last change, while the snapshot may not show it */
  readonly #changed = new Map<string, number>();
  /** pod uid → when (generation, clock time) the snapshot's copy of it was read on its own */
  readonly #observed = new Map<string, { generation: number; at: number }>();
  /** container id → pod uid, for changes named by container id */
  readonly #owners = new Map<string, string>();

  constructor(options: CachedRuntimeOptions) {
    const ttlMs = options.ttlMs ?? 1_000;
    if (!(ttlMs >= 0)) throw new RangeError(`Cannot cache the runtime: bad ttlMs ${ttlMs}`);
    this.#runtime = options.runtime;
    this.#node = options.node;
    this.#clock = options.clock;
    this.#ttlMs = ttlMs;
  }

  version(): Promise<string> {
    return this.#runtime.version();
  }

  /** Images are not in the snapshot: passed through. */
  ensureImage(image: string, pullPolicy: "Always" | "IfNotPresent" | "Never"): Promise<boolean> {
    return this.#runtime.ensureImage(image, pullPolicy);
  }

  listImages(): Promise<Array<{ names: string[]; sizeBytes: number }>> {
    return this.#runtime.listImages();
  }

  createSandbox(config: SandboxConfig): Promise<SandboxStatus> {
    return this.#changing(config.podUid, () => this.#runtime.createSandbox(config));
  }

  async listSandboxes(node: string): Promise<SandboxStatus[]> {
    if (node !== this.#node) return await this.#runtime.listSandboxes(node);
    return structuredClone((await this.#whole()).sandboxes);
  }

  async listNodeState(node: string): Promise<NodeState> {
    if (node !== this.#node) return await this.#runtime.listNodeState(node);
    return structuredClone(await this.#whole());
  }

  async observePod(node: string, podUid: string): Promise<PodState> {
    if (node !== this.#node) return await this.#runtime.observePod(node, podUid);
    return structuredClone(await this.#pod(podUid));
  }

  async removeSandbox(podUid: string): Promise<void> {
    await this.#changing(podUid, () => this.#runtime.removeSandbox(podUid));
    for (const [id, owner] of this.#owners) if (owner === podUid) this.#owners.delete(id);
  }

  createContainer(config: ContainerConfig): Promise<string> {
    return this.#changing(config.podUid, async () => {
      const id = await this.#runtime.createContainer(config);
      this.#owners.set(id, config.podUid);
      return id;
    });
  }

  startContainer(id: string): Promise<void> {
    return this.#changing(this.#owners.get(id), () => this.#runtime.startContainer(id));
  }

  runContainer(config: ContainerConfig): Promise<string> {
    return this.#changing(config.podUid, async () => {
      const id = await this.#runtime.runContainer(config);
      this.#owners.set(id, config.podUid);
      return id;
    });
  }

  stopContainer(id: string, graceSeconds: number): Promise<void> {
    return this.#changing(
      this.#owners.get(id),
      () => this.#runtime.stopContainer(id, graceSeconds),
    );
  }

  async removeContainer(id: string): Promise<void> {
    await this.#changing(this.#owners.get(id), () => this.#runtime.removeContainer(id));
    this.#owners.delete(id);
  }

  async listContainers(podUid: string): Promise<ContainerStatus[]> {
    return structuredClone((await this.#pod(podUid)).containers);
  }

  exec(id: string, command: string[], timeoutMs: number): Promise<ProbeOutcome> {
    return this.#runtime.exec(id, command, timeoutMs);
  }

  probe(podUid: string, probe: NetworkProbe, timeoutMs: number): Promise<ProbeOutcome> {
    return this.#runtime.probe(podUid, probe, timeoutMs);
  }

  logs(id: string, options: LogOptions): ReadableStream<Uint8Array> {
    return this.#runtime.logs(id, options);
  }

  /** Whether the snapshot may not show the pod's last change. */
  #isChanged(podUid: string, snapshot = this.#snapshot): boolean {
    const changed = this.#changed.get(podUid);
    if (changed === undefined || !snapshot) return false;
    return changed > Math.max(snapshot.generation, this.#observed.get(podUid)?.generation ?? 0);
  }

  /** One pod (not a copy): read on its own when changed, else from the snapshot. */
  async #pod(podUid: string): Promise<PodState> {
    const kept = this.#snapshot;
    let state: NodeState;
    if (kept && this.#isChanged(podUid, kept)) return await this.#observe(podUid);
    const observedAt = this.#observed.get(podUid)?.at;
    if (kept && observedAt !== undefined && this.#clock.now() - observedAt < this.#ttlMs) {
      state = kept.state; // read on its own within the ttl
    } else if (kept && !kept.state.sandboxes.some((s) => s.podUid === podUid)) {
      state = kept.state;
    } else {
      state = await this.#state();
    }
    const sandbox = state.sandboxes.find((s) => s.podUid === podUid);
    return {
      ...(sandbox ? { sandbox } : {}),
      containers: state.containers.filter((c) => c.podUid === podUid),
    };
  }

  /** Reads a changed pod on its own and puts it into the snapshot, unless newer news came. */
  async #observe(podUid: string): Promise<PodState> {
    const generation = this.#generation;
    const at = this.#clock.now();
    const pod = await this.#runtime.observePod(this.#node, podUid);
    const snapshot = this.#snapshot;
    if (
      snapshot && generation >= snapshot.generation && generation >= this.#dropped &&
      generation >= (this.#observed.get(podUid)?.generation ?? 0)
    ) {
      const { state } = snapshot;
      state.sandboxes = state.sandboxes.filter((s) => s.podUid !== podUid);
      if (pod.sandbox) state.sandboxes.push(pod.sandbox);
      state.containers = [
        ...state.containers.filter((c) => c.podUid !== podUid),
        ...pod.containers,
      ];
      this.#learnOwners(pod.containers);
      this.#observed.set(podUid, { generation, at });
    }
    return pod;
  }

  /** The whole node, with no pod in it changed since it was read. */
  async #whole(): Promise<NodeState> {
    const kept = this.#snapshot;
    if (kept && [...this.#changed.keys()].some((uid) => this.#isChanged(uid, kept))) {
      this.#drop(); // a relist is cheaper than a look per changed pod
    }
    return await this.#state();
  }

  /** The current snapshot (not a copy): fresh enough, or the refresh under way, or a new one. */
  #state(): Promise<NodeState> {
    const snapshot = this.#snapshot;
    if (snapshot && this.#clock.now() - snapshot.at < this.#ttlMs) {
      return Promise.resolve(snapshot.state);
    }
    this.#refreshing ??= this.#refresh();
    return this.#refreshing;
  }

  async #refresh(): Promise<NodeState> {
    const generation = this.#generation;
    const at = this.#clock.now();
    try {
      const state = await this.#runtime.listNodeState(this.#node);
      if (generation >= this.#dropped) {
        this.#snapshot = { at, generation, state };
        this.#observed.clear();
        for (const [uid, changed] of this.#changed) {
          if (changed <= generation) this.#changed.delete(uid);
        }
        this.#learnOwners(state.containers);
      }
      return state;
    } finally {
      if (generation >= this.#dropped) this.#refreshing = undefined;
    }
  }

  #learnOwners(containers: readonly ContainerStatus[]): void {
    for (const c of containers) this.#owners.set(c.id, c.podUid);
  }

  /**
   * Runs a call that changes pod `podUid` (or, when unknown, the node), then marks it changed
   * (also when the call failed).
   */
  async #changing<T>(podUid: string | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } finally {
      const generation = ++this.#generation;
      if (podUid === undefined) this.#drop();
      else this.#changed.set(podUid, generation);
    }
  }

  /** Forgets the snapshot, and any refresh under way: the next read lists the node anew. */
  #drop(): void {
    this.#dropped = this.#generation;
    this.#snapshot = undefined;
    this.#refreshing = undefined;
  }
}

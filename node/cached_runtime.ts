/**
 * {@linkcode CachedRuntime}: one node-wide relist shared by every pod worker, in the manner of
 * kubelet's PLEG. Each worker looks at the runtime about once a second; without this, every
 * look is its own `listSandboxes` + `listContainers` (four podman calls per pod per second).
 * Here those reads are answered from one {@linkcode NodeState} snapshot, taken with
 * {@linkcode ContainerRuntime.listNodeState} at most once per `ttlMs`, so the cost of watching
 * the node no longer grows with the number of pods.
 *
 * - Callers that find the snapshot stale while a refresh is under way share that refresh.
 * - Every call that changes sandboxes or containers (and `ensureImage`) drops the snapshot when
 *   it finishes, failed or not, so whoever acted reads its own change. A refresh that was under
 *   way during the change still answers the callers that were waiting for it, but is not kept.
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
  #snapshot: { at: number; state: NodeState } | undefined;
  #refreshing: Promise<NodeState> | undefined;
  /** bumped by every change: a refresh started before it is not kept */
  #generation = 0;

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

  ensureImage(image: string, pullPolicy: "Always" | "IfNotPresent" | "Never"): Promise<boolean> {
    return this.#changing(() => this.#runtime.ensureImage(image, pullPolicy));
  }

  listImages(): Promise<Array<{ names: string[]; sizeBytes: number }>> {
    return this.#runtime.listImages();
  }

  createSandbox(config: SandboxConfig): Promise<SandboxStatus> {
    return this.#changing(() => this.#runtime.createSandbox(config));
  }

  async listSandboxes(node: string): Promise<SandboxStatus[]> {
    if (node !== this.#node) return await this.#runtime.listSandboxes(node);
    return structuredClone((await this.#state()).sandboxes);
  }

  async listNodeState(node: string): Promise<NodeState> {
    if (node !== this.#node) return await this.#runtime.listNodeState(node);
    return structuredClone(await this.#state());
  }

  removeSandbox(podUid: string): Promise<void> {
    return this.#changing(() => this.#runtime.removeSandbox(podUid));
  }

  createContainer(config: ContainerConfig): Promise<string> {
    return this.#changing(() => this.#runtime.createContainer(config));
  }

  startContainer(id: string): Promise<void> {
    return this.#changing(() => this.#runtime.startContainer(id));
  }

  runContainer(config: ContainerConfig): Promise<string> {
    return this.#changing(() => this.#runtime.runContainer(config));
  }

  stopContainer(id: string, graceSeconds: number): Promise<void> {
    return this.#changing(() => this.#runtime.stopContainer(id, graceSeconds));
  }

  removeContainer(id: string): Promise<void> {
    return this.#changing(() => this.#runtime.removeContainer(id));
  }

  async listContainers(podUid: string): Promise<ContainerStatus[]> {
    const { containers } = await this.#state();
    return structuredClone(containers.filter((c) => c.podUid === podUid));
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
      if (generation === this.#generation) this.#snapshot = { at, state };
      return state;
    } finally {
      if (generation === this.#generation) this.#refreshing = undefined;
    }
  }

  /** Runs a call that changes the node, then drops the snapshot (also when the call failed). */
  async #changing<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } finally {
      this.#generation++;
      this.#snapshot = undefined;
      this.#refreshing = undefined;
    }
  }
}

/**
 * A small in-memory {@linkcode ContainerRuntime} for the pod worker's tests: scripted exits per
 * container name, settable image errors and probe results, containers that ignore SIGTERM,
 * and a call log. Time comes from the given {@linkcode Clock}.
 *
 * @module
 */

import type { Clock } from "../storage/clock.ts";
import {
  type ContainerConfig,
  type ContainerRuntime,
  type ContainerStatus,
  type NetworkProbe,
  type NodeState,
  type PodState,
  type ProbeOutcome,
  RuntimeError,
  type SandboxConfig,
  type SandboxStatus,
  statusIdentity,
} from "./runtime.ts";

interface Instance {
  config: ContainerConfig;
  status: ContainerStatus;
}

/** See the module documentation. */
export class TestRuntime implements ContainerRuntime {
  readonly clock: Clock;
  readonly calls: string[] = [];
  readonly sandboxes = new Map<string, SandboxStatus & { node: string }>();
  readonly containers = new Map<string, Instance>();
  /** per container name: how long each successive start runs and its exit code */
  readonly exits = new Map<string, Array<{ afterMs: number; exitCode: number }>>();
  /** image → error `ensureImage` throws */
  readonly imageErrors = new Map<string, RuntimeError>();
  /** container name (or id) → exec probe outcome */
  readonly execResults = new Map<string, boolean>();
  /** port → network probe outcome */
  readonly probeResults = new Map<number, boolean>();
  /** container names that only exit on SIGKILL at the end of the grace period */
  readonly ignoreSigterm = new Set<string>();
  #next = 0;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  version(): Promise<string> {
    return Promise.resolve("test 1.0");
  }

  ensureImage(image: string, pullPolicy: "Always" | "IfNotPresent" | "Never"): Promise<boolean> {
    this.calls.push(`ensureImage ${image} ${pullPolicy}`);
    const error = this.imageErrors.get(image);
    return error ? Promise.reject(error) : Promise.resolve(false);
  }

  listImages(): Promise<Array<{ names: string[]; sizeBytes: number }>> {
    return Promise.resolve([]);
  }

  createSandbox(config: SandboxConfig): Promise<SandboxStatus> {
    this.calls.push(`createSandbox ${config.podName}`);
    const existing = this.sandboxes.get(config.podUid);
    if (existing) return Promise.resolve(existing);
    const sandbox = {
      id: `sandbox-${++this.#next}`,
      podUid: config.podUid,
      podName: config.podName,
      podNamespace: config.podNamespace,
      ip: `10.88.0.${this.#next}`,
      state: "ready" as const,
      createdAt: new Date(this.clock.now()),
      node: config.node,
    };
    this.sandboxes.set(config.podUid, sandbox);
    return Promise.resolve(sandbox);
  }

  listSandboxes(node: string): Promise<SandboxStatus[]> {
    return Promise.resolve([...this.sandboxes.values()].filter((s) => s.node === node));
  }

  async listNodeState(node: string): Promise<NodeState> {
    const sandboxes = await this.listSandboxes(node);
    const containers = await Promise.all(sandboxes.map((s) => this.listContainers(s.podUid)));
    return { sandboxes, containers: containers.flat() };
  }

  async observePod(node: string, podUid: string): Promise<PodState> {
    const sandbox = (await this.listSandboxes(node)).find((s) => s.podUid === podUid);
    return { ...(sandbox ? { sandbox } : {}), containers: await this.listContainers(podUid) };
  }

  removeSandbox(podUid: string): Promise<void> {
    this.calls.push(`removeSandbox`);
    this.sandboxes.delete(podUid);
    for (const [id, c] of this.containers) {
      if (c.status.podUid === podUid) this.containers.delete(id);
    }
    return Promise.resolve();
  }

  createContainer(config: ContainerConfig): Promise<string> {
    const id = `${String(++this.#next).padStart(4, "0")}${"a".repeat(60)}`;
    this.calls.push(`create ${config.name}#${config.attempt}`);
    this.containers.set(id, {
      config,
      status: {
        ...statusIdentity(config, id),
        imageId: "sha256:feed",
        state: "created",
        createdAt: new Date(this.clock.now()),
      },
    });
    return Promise.resolve(id);
  }

  /** createContainer, then startContainer (both recorded in `calls`). */
  async runContainer(config: ContainerConfig): Promise<string> {
    const id = await this.createContainer(config);
    await this.startContainer(id);
    return id;
  }

  startContainer(id: string): Promise<void> {
    const c = this.#get(id);
    this.calls.push(`start ${c.config.name}#${c.config.attempt} @${this.clock.now()}`);
    c.status.state = "running";
    c.status.startedAt = new Date(this.clock.now());
    const script = this.exits.get(c.config.name)?.shift();
    if (script) {
      this.clock.sleep(script.afterMs).then(() => this.exit(id, script.exitCode));
    }
    return Promise.resolve();
  }

  /** Make container `id` exit now with `exitCode`. */
  exit(id: string, exitCode: number): void {
    const c = this.containers.get(id);
    if (!c || c.status.state !== "running") return;
    c.status.state = "exited";
    c.status.exitCode = exitCode;
    c.status.finishedAt = new Date(this.clock.now());
  }

  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    const c = this.#get(id);
    this.calls.push(`stop ${c.config.name}#${c.config.attempt} grace=${graceSeconds}`);
    if (this.ignoreSigterm.has(c.config.name)) {
      await this.clock.sleep(graceSeconds * 1000);
      this.exit(id, 137);
      return;
    }
    this.exit(id, 143);
    if (c.status.state === "created") c.status.state = "exited";
  }

  removeContainer(id: string): Promise<void> {
    const c = this.#get(id);
    this.calls.push(`remove ${c.config.name}#${c.config.attempt}`);
    this.containers.delete(id);
    return Promise.resolve();
  }

  listContainers(podUid: string): Promise<ContainerStatus[]> {
    return Promise.resolve(
      [...this.containers.values()]
        .filter((c) => c.status.podUid === podUid)
        .map((c) => structuredClone(c.status))
        .sort((a, b) => a.attempt - b.attempt),
    );
  }

  /** The running instance of container `name`, if any. */
  running(name: string): Instance | undefined {
    return [...this.containers.values()].find((c) =>
      c.config.name === name && c.status.state === "running"
    );
  }

  exec(id: string, command: string[], _timeoutMs: number): Promise<ProbeOutcome> {
    const name = this.containers.get(id)?.config.name ?? id;
    this.calls.push(`exec ${name} ${command.join(" ")} @${this.clock.now()}`);
    const success = this.execResults.get(name) ?? true;
    return Promise.resolve({ success, message: `${command.join(" ")}: ${success}` });
  }

  probe(_podUid: string, probe: NetworkProbe, _timeoutMs: number): Promise<ProbeOutcome> {
    const success = this.probeResults.get(probe.port) ?? true;
    return Promise.resolve({ success, message: success ? "" : "connection refused" });
  }

  logs(): ReadableStream<Uint8Array> {
    return new ReadableStream({ start: (controller) => controller.close() });
  }

  #get(id: string): Instance {
    const c = this.containers.get(id);
    if (!c) throw new RuntimeError("RuntimeError", `no such container: ${id}`);
    return c;
  }
}

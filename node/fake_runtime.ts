/**
 * {@linkcode FakeRuntime}: an in-memory {@linkcode ContainerRuntime} for unit tests of the pod
 * worker and probes. It keeps the podman runtime's semantics (sandboxes by pod uid, one
 * container per name and attempt, the same validation and error reasons, `--ignore`-style
 * idempotent stop/remove) and lets a test script what containers do.
 *
 * Time comes from the given {@linkcode Clock}. Containers change state only when the runtime is
 * called or the test says so: an `exit` behaviour with `afterMs` is applied lazily, as soon as a
 * call observes that its time has come, so the fake never leaves timers behind. Only
 * `stopContainer` on a container that ignores SIGTERM waits (`clock.sleep(grace)`), like
 * `podman stop` does.
 *
 * @example
 * ```ts
 * const clock = new FakeClock(0);
 * const runtime = new FakeRuntime(clock);
 * runtime.images.add("localhost/edge-test:1");
 * runtime.script("app", { kind: "exit", exitCode: 1, afterMs: 500 }, { kind: "run" });
 * // attempt 0 crashes 500 ms after its start, attempt 1 and later keep running
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "../storage/clock.ts";
import {
  needsPull,
  neverPullError,
  requireImageReference,
  validateContainerConfig,
  validateSandboxConfig,
} from "./_podman_validate.ts";
import {
  type ContainerConfig,
  type ContainerRuntime,
  type ContainerStatus,
  type LogOptions,
  type NetworkProbe,
  type NodeState,
  type PodState,
  type ProbeOutcome,
  RuntimeError,
  type RuntimeErrorReason,
  type SandboxConfig,
  type SandboxStatus,
  statusIdentity,
} from "./runtime.ts";

/** What a fake container does once started. */
export type FakeBehaviour =
  | {
    /** runs until stopped */
    kind: "run";
    /** only SIGKILL at the end of the grace period stops it (exit code 137) */
    ignoreSigterm?: boolean;
    /** exit code when SIGTERM stops it; default 143 */
    termExitCode?: number;
    /** lines it logs when it starts */
    logs?: string[];
  }
  | {
    /** exits by itself `afterMs` after its start (default 0: right away) */
    kind: "exit";
    exitCode: number;
    afterMs?: number;
    /** the kernel killed it for memory: reason "OOMKilled" (use exitCode 137) */
    oomKilled?: boolean;
    ignoreSigterm?: boolean;
    termExitCode?: number;
    logs?: string[];
  }
  | {
    /** `startContainer` fails with RunContainerError; the container stays "created" */
    kind: "failStart";
    message?: string;
  }
  | {
    /** `createContainer` fails (default reason CreateContainerError) */
    kind: "failCreate";
    reason?: RuntimeErrorReason;
    message?: string;
  };

/** The methods {@linkcode FakeRuntime.failNext} can make fail. */
export type FakeMethod = Exclude<keyof ContainerRuntime, "logs">;

interface FakeSandbox {
  config: SandboxConfig;
  status: SandboxStatus;
}

interface FakeContainer {
  config: ContainerConfig;
  status: ContainerStatus;
  behaviour: FakeBehaviour;
  log: Array<{ at: number; line: string }>;
  followers: Set<(line: string | undefined) => void>;
}

const DEFAULT_BEHAVIOUR: FakeBehaviour = { kind: "run" };

/** The in-memory container runtime; see the module documentation. */
export class FakeRuntime implements ContainerRuntime {
  readonly clock: Clock;
  /** images present on the fake node (`repo:tag`; short names also match `localhost/…`) */
  readonly images: Set<string> = new Set();
  /** images a pull would fetch (added to {@linkcode images} when pulled) */
  readonly pullable: Set<string> = new Set();
  /**
   * Calls that act (not the list/version reads), in order, e.g. `ensureImage img IfNotPresent`,
   * `createSandbox <uid>`, `createContainer app#0`, `startContainer app#0`,
   * `stopContainer app#0 30`, `removeContainer app#0`, `removeSandbox <uid>`,
   * `exec app#0 cat /ready`, `probe <uid> http:8080`, `logs app#0`.
   */
  readonly calls: string[] = [];
  /**
   * Network probe outcomes by `<podUid>:<port>`, or `*:<port>` for any pod (see
   * {@linkcode setProbe}). Unset: success iff the sandbox is ready and a container runs.
   */
  readonly probeResults: Map<string, ProbeOutcome> = new Map();
  /**
   * Exec outcomes by the command joined with spaces (`"cat /tmp/ready"`), or
   * `<container>:<command>` for one container. Unset: success iff the container runs.
   */
  readonly execResults: Map<string, ProbeOutcome> = new Map();
  readonly #sandboxes = new Map<string, FakeSandbox>();
  readonly #containers = new Map<string, FakeContainer>();
  readonly #scripts = new Map<string, FakeBehaviour[]>();
  readonly #failures = new Map<FakeMethod, Error[]>();
  #nextId = 0;
  #nextIp = 1;

  constructor(clock: Clock = systemClock) {
    this.clock = clock;
  }

  // ---- test controls ----

  /**
   * Scripts container `name` (a container name from the pod spec, in any pod, or
   * `<podUid>/<name>` for one pod): attempt N behaves as `behaviours[N]`, the last one repeating.
   * Unscripted containers run until stopped.
   */
  script(name: string, ...behaviours: FakeBehaviour[]): void {
    if (behaviours.length === 0) throw new Error(`script(${name}) needs at least one behaviour`);
    this.#scripts.set(name, behaviours);
  }

  /** Shorthand: every attempt of `name` exits with `exitCode`, `afterMs` after its start. */
  setExit(name: string, exitCode: number, afterMs = 0): void {
    this.script(name, { kind: "exit", exitCode, afterMs });
  }

  /**
   * Makes the running instance of container `nameOrId` (a container id, `<podUid>/<name>`
   * or a name) exit now. Returns whether a running container was found.
   */
  exit(nameOrId: string, exitCode: number, options: { oomKilled?: boolean } = {}): boolean {
    const container = this.#find(nameOrId, (c) => {
      this.#settle(c);
      return c.status.state === "running";
    });
    if (!container) return false;
    this.#finish(container, exitCode, this.clock.now(), options.oomKilled ?? false);
    return true;
  }

  /** Sets the probe outcome for (`podUid` or `"*"`, `port`). */
  setProbe(podUid: string, port: number, result: boolean | ProbeOutcome): void {
    const outcome = typeof result === "boolean"
      ? { success: result, message: result ? "" : "connection refused" }
      : result;
    this.probeResults.set(`${podUid}:${port}`, outcome);
  }

  /** Marks a sandbox ready or not ready (its infra container died), keeping its IP. */
  setSandboxReady(podUid: string, ready: boolean): void {
    const sandbox = this.#sandboxes.get(podUid);
    if (!sandbox) throw new Error(`no sandbox for pod ${podUid}`);
    sandbox.status.state = ready ? "ready" : "notready";
  }

  /** Makes the next call of `method` reject with `error` (queued: one per call). */
  failNext(method: FakeMethod, error: Error): void {
    const queue = this.#failures.get(method) ?? [];
    queue.push(error);
    this.#failures.set(method, queue);
  }

  /** Appends a line to the log of container `nameOrId` (the newest instance). */
  writeLog(nameOrId: string, line: string): void {
    const container = this.#find(nameOrId, () => true);
    if (!container) throw new Error(`no container ${nameOrId}`);
    container.log.push({ at: this.clock.now(), line });
    for (const follower of container.followers) follower(line);
  }

  /** The config a sandbox was created from, to assert on. */
  sandboxConfig(podUid: string): SandboxConfig | undefined {
    return this.#sandboxes.get(podUid)?.config;
  }

  /** The config container `nameOrId` (newest instance) was created from, to assert on. */
  containerConfig(nameOrId: string): ContainerConfig | undefined {
    return this.#find(nameOrId, () => true)?.config;
  }

  // ---- ContainerRuntime ----

  version(): Promise<string> {
    return this.#call("version", () => "fake://1.0.0");
  }

  ensureImage(image: string, pullPolicy: "Always" | "IfNotPresent" | "Never"): Promise<boolean> {
    return this.#call("ensureImage", () => {
      this.calls.push(`ensureImage ${image} ${pullPolicy}`);
      const ref = requireImageReference(image);
      if (!needsPull(ref, pullPolicy, this.#hasImage(image))) return false;
      if (pullPolicy === "Never") throw neverPullError(image);
      if (!this.pullable.has(image)) {
        throw new RuntimeError(
          "ErrImagePull",
          `Failed to pull image "${image}": initializing source docker://${image}: ` +
            "pinging container registry: no registry is reachable",
        );
      }
      this.images.add(image);
      return true;
    });
  }

  listImages(): Promise<Array<{ names: string[]; sizeBytes: number }>> {
    return this.#call(
      "listImages",
      () => [...this.images].sort().map((name) => ({ names: [name], sizeBytes: 1_000_000 })),
    );
  }

  createSandbox(config: SandboxConfig): Promise<SandboxStatus> {
    return this.#call("createSandbox", () => {
      this.calls.push(`createSandbox ${config.podUid}`);
      validateSandboxConfig(config);
      const existing = this.#sandboxes.get(config.podUid);
      if (existing) {
        existing.status.state = "ready";
        return { ...existing.status };
      }
      const status: SandboxStatus = {
        id: this.#id(),
        podUid: config.podUid,
        podName: config.podName,
        podNamespace: config.podNamespace,
        ip: config.hostNetwork ? "" : `10.88.${this.#nextIp >> 8}.${this.#nextIp++ & 255}`,
        state: "ready",
        createdAt: new Date(this.clock.now()),
      };
      this.#sandboxes.set(config.podUid, { config: structuredClone(config), status });
      return { ...status };
    });
  }

  listSandboxes(node: string): Promise<SandboxStatus[]> {
    return this.#call("listSandboxes", () =>
      [...this.#sandboxes.values()]
        .filter((s) => s.config.node === node)
        .map((s) => ({ ...s.status })));
  }

  observePod(node: string, podUid: string): Promise<PodState> {
    return this.#call("observePod", () => {
      const sandbox = this.#sandboxes.get(podUid);
      if (!sandbox || sandbox.config.node !== node) return { containers: [] };
      return {
        sandbox: { ...sandbox.status },
        containers: this.#statuses((c) => c.config.podUid === podUid),
      };
    });
  }

  listNodeState(node: string): Promise<NodeState> {
    return this.#call("listNodeState", () => {
      const mine = [...this.#sandboxes.values()].filter((s) => s.config.node === node);
      const uids = new Set(mine.map((s) => s.config.podUid));
      return {
        sandboxes: mine.map((s) => ({ ...s.status })),
        containers: this.#statuses((c) => uids.has(c.config.podUid)),
      };
    });
  }

  removeSandbox(podUid: string): Promise<void> {
    return this.#call("removeSandbox", () => {
      this.calls.push(`removeSandbox ${podUid}`);
      for (const [id, container] of this.#containers) {
        if (container.config.podUid !== podUid) continue;
        this.#containers.delete(id);
        this.#closeFollowers(container);
      }
      this.#sandboxes.delete(podUid);
    });
  }

  createContainer(config: ContainerConfig): Promise<string> {
    return this.#call("createContainer", () => {
      const label = `${config.name}#${config.attempt}`;
      this.calls.push(`createContainer ${label}`);
      requireImageReference(config.image);
      validateContainerConfig(config);
      const fail = (message: string) => new RuntimeError("CreateContainerError", message);
      if (!this.#sandboxes.has(config.podUid)) {
        throw fail(`Cannot create container '${config.name}': no sandbox for pod ${config.podUid}`);
      }
      if (!this.#hasImage(config.image)) {
        throw fail(`Cannot create container '${config.name}': ${config.image}: image not known`);
      }
      const taken = [...this.#containers.values()].some((c) =>
        c.config.podUid === config.podUid && c.config.name === config.name &&
        c.config.attempt === config.attempt
      );
      if (taken) throw fail(`Cannot create container '${config.name}': ${label} is in use`);
      const behaviour = this.#behaviour(config);
      if (behaviour.kind === "failCreate") {
        throw new RuntimeError(
          behaviour.reason ?? "CreateContainerError",
          behaviour.message ?? `Cannot create container '${config.name}': scripted failure`,
        );
      }
      const id = this.#id();
      this.#containers.set(id, {
        config: structuredClone(config),
        behaviour,
        log: [],
        followers: new Set(),
        status: {
          ...statusIdentity(config, id),
          imageId: imageId(config.image),
          state: "created",
          createdAt: new Date(this.clock.now()),
        },
      });
      return id;
    });
  }

  /** createContainer, then startContainer (both recorded in `calls`). */
  async runContainer(config: ContainerConfig): Promise<string> {
    const id = await this.createContainer(config);
    await this.startContainer(id);
    return id;
  }

  startContainer(id: string): Promise<void> {
    return this.#call("startContainer", () => {
      const container = this.#containers.get(id);
      if (!container) {
        this.calls.push(`startContainer ${id}`);
        throw new RuntimeError(
          "RunContainerError",
          `Cannot start container: no such container ${id}`,
        );
      }
      this.calls.push(`startContainer ${labelOf(container)}`);
      const { behaviour, status } = container;
      if (behaviour.kind === "failStart") {
        throw new RuntimeError(
          "RunContainerError",
          behaviour.message ?? `Cannot start container: ${labelOf(container)}: scripted failure`,
        );
      }
      if (status.state === "running") return;
      const now = this.clock.now();
      status.state = "running";
      status.startedAt = new Date(now);
      delete status.finishedAt;
      delete status.exitCode;
      delete status.reason;
      if (behaviour.kind === "run" || behaviour.kind === "exit") {
        for (const line of behaviour.logs ?? []) container.log.push({ at: now, line });
      }
    });
  }

  stopContainer(id: string, graceSeconds: number): Promise<void> {
    return this.#call("stopContainer", async () => {
      const container = this.#containers.get(id);
      this.calls.push(`stopContainer ${container ? labelOf(container) : id} ${graceSeconds}`);
      if (!container) return;
      this.#settle(container);
      if (container.status.state !== "running") return;
      const { behaviour } = container;
      const ignores = (behaviour.kind === "run" || behaviour.kind === "exit") &&
        behaviour.ignoreSigterm === true;
      if (ignores) {
        await this.clock.sleep(Math.max(0, graceSeconds) * 1000);
        this.#settle(container);
        if (container.status.state === "running") this.#finish(container, 137, this.clock.now());
        return;
      }
      const code = behaviour.kind === "run" || behaviour.kind === "exit"
        ? behaviour.termExitCode ?? 143
        : 143;
      this.#finish(container, code, this.clock.now());
    });
  }

  removeContainer(id: string): Promise<void> {
    return this.#call("removeContainer", () => {
      const container = this.#containers.get(id);
      this.calls.push(`removeContainer ${container ? labelOf(container) : id}`);
      if (!container) return;
      this.#containers.delete(id);
      this.#closeFollowers(container);
    });
  }

  listContainers(podUid: string): Promise<ContainerStatus[]> {
    return this.#call("listContainers", () => this.#statuses((c) => c.config.podUid === podUid));
  }

  exec(id: string, command: string[], _timeoutMs: number): Promise<ProbeOutcome> {
    return this.#call("exec", () => {
      const container = this.#containers.get(id);
      const line = command.join(" ");
      this.calls.push(`exec ${container ? labelOf(container) : id} ${line}`);
      if (!container) return { success: false, message: `no such container ${id}` };
      this.#settle(container);
      if (container.status.state !== "running") {
        return { success: false, message: `container ${labelOf(container)} is not running` };
      }
      const outcome = this.execResults.get(`${container.config.name}:${line}`) ??
        this.execResults.get(line);
      return outcome ? { ...outcome } : { success: true, message: "" };
    });
  }

  probe(podUid: string, probe: NetworkProbe, _timeoutMs: number): Promise<ProbeOutcome> {
    return this.#call("probe", () => {
      this.calls.push(
        `probe ${podUid} ${probe.kind}:${probe.port}${probe.host ? `@${probe.host}` : ""}`,
      );
      const outcome = this.probeResults.get(`${podUid}:${probe.port}`) ??
        this.probeResults.get(`*:${probe.port}`);
      if (outcome) return { ...outcome };
      const sandbox = this.#sandboxes.get(podUid);
      const running = [...this.#containers.values()].some((c) => {
        if (c.config.podUid !== podUid) return false;
        this.#settle(c);
        return c.status.state === "running";
      });
      if (sandbox?.status.state === "ready" && running) return { success: true, message: "" };
      return {
        success: false,
        message: `dial tcp 127.0.0.1:${probe.port}: connect: connection refused`,
      };
    });
  }

  /**
   * The container's log lines (`line\n` each). Following ends when the signal aborts, the
   * reader cancels, or the container is stopped or removed; a container that is not running
   * is never followed.
   */
  logs(id: string, options: LogOptions): ReadableStream<Uint8Array> {
    const container = this.#containers.get(id);
    this.calls.push(`logs ${container ? labelOf(container) : id}`);
    const encoder = new TextEncoder();
    const format = (at: number, line: string) =>
      encoder.encode(`${options.timestamps ? `${new Date(at).toISOString()} ` : ""}${line}\n`);
    let stop = () => {};
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (!container) {
          controller.error(new RuntimeError("RuntimeError", `no such container ${id}`));
          return;
        }
        this.#settle(container);
        const since = options.sinceSeconds === undefined
          ? -Infinity
          : this.clock.now() - options.sinceSeconds * 1000;
        let lines = container.log.filter((entry) => entry.at >= since);
        if (options.tailLines !== undefined) {
          lines = options.tailLines <= 0 ? [] : lines.slice(-options.tailLines);
        }
        for (const entry of lines) controller.enqueue(format(entry.at, entry.line));
        if (!options.follow || container.status.state !== "running" || options.signal?.aborted) {
          controller.close();
          return;
        }
        const follower = (line: string | undefined) => {
          if (line !== undefined) return controller.enqueue(format(this.clock.now(), line));
          stop();
          controller.close();
        };
        stop = () => {
          container.followers.delete(follower);
          options.signal?.removeEventListener("abort", onAbort);
        };
        const onAbort = () => follower(undefined);
        container.followers.add(follower);
        options.signal?.addEventListener("abort", onAbort, { once: true });
      },
      cancel: () => stop(),
    });
  }

  // ---- internals ----

  async #call<T>(method: FakeMethod, body: () => T | Promise<T>): Promise<T> {
    const error = this.#failures.get(method)?.shift();
    if (error) throw error;
    return await body();
  }

  /** Statuses of the containers passing `filter`, settled, newest attempt last. */
  #statuses(filter: (c: FakeContainer) => boolean): ContainerStatus[] {
    return [...this.#containers.values()]
      .filter(filter)
      .map((c) => {
        this.#settle(c);
        return structuredClone(c.status);
      })
      .sort((a, b) =>
        a.attempt - b.attempt || a.createdAt.getTime() - b.createdAt.getTime() ||
        a.id.localeCompare(b.id)
      );
  }

  #id(): string {
    return (++this.#nextId).toString(16).padStart(64, "0");
  }

  #hasImage(image: string): boolean {
    const tagged = /[:@][^/]*$/.test(image) ? image : `${image}:latest`;
    return [image, tagged, `localhost/${tagged}`].some((name) => this.images.has(name));
  }

  #behaviour(config: ContainerConfig): FakeBehaviour {
    const list = this.#scripts.get(`${config.podUid}/${config.name}`) ??
      this.#scripts.get(config.name);
    if (!list) return DEFAULT_BEHAVIOUR;
    return list[Math.min(config.attempt, list.length - 1)] ?? DEFAULT_BEHAVIOUR;
  }

  /** Applies a scripted exit whose time has come. */
  #settle(container: FakeContainer): void {
    const { behaviour, status } = container;
    if (status.state !== "running" || behaviour.kind !== "exit" || !status.startedAt) return;
    const at = status.startedAt.getTime() + (behaviour.afterMs ?? 0);
    if (at <= this.clock.now()) {
      this.#finish(container, behaviour.exitCode, at, behaviour.oomKilled ?? false);
    }
  }

  #finish(container: FakeContainer, exitCode: number, at: number, oomKilled = false): void {
    const { status } = container;
    status.state = "exited";
    status.exitCode = exitCode;
    status.finishedAt = new Date(at);
    status.reason = oomKilled ? "OOMKilled" : exitCode === 0 ? "Completed" : "Error";
    this.#closeFollowers(container);
  }

  #closeFollowers(container: FakeContainer): void {
    for (const follower of [...container.followers]) follower(undefined);
  }

  /** A container by id, `<podUid>/<name>` or name: the newest instance passing `filter`. */
  #find(nameOrId: string, filter: (c: FakeContainer) => boolean): FakeContainer | undefined {
    const byId = this.#containers.get(nameOrId);
    if (byId) return filter(byId) ? byId : undefined;
    const matches = [...this.#containers.values()].filter((c) => {
      const scoped = `${c.config.podUid}/${c.config.name}`;
      return (scoped === nameOrId || c.config.name === nameOrId) && filter(c);
    });
    return matches.sort((a, b) => a.config.attempt - b.config.attempt).at(-1);
  }
}

function labelOf(container: FakeContainer): string {
  return `${container.config.name}#${container.config.attempt}`;
}

/** A stable fake image id (`sha256:` + 64 hex) derived from the image name. */
function imageId(image: string): string {
  let hex = "";
  let hash = 0x811c9dc5;
  for (let round = 0; hex.length < 64; round++) {
    for (const char of `${round}:${image}`) {
      hash ^= char.charCodeAt(0);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    hex += hash.toString(16).padStart(8, "0");
  }
  return `sha256:${hex.slice(0, 64)}`;
}

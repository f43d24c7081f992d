/**
 * {@linkcode PodmanRuntime}: the {@linkcode ContainerRuntime} on podman. A Pod's sandbox is a
 * podman pod (its infra container holds the network namespace), its containers are podman
 * containers in that pod, and everything carries the {@linkcode LABELS} so a restarted agent
 * adopts what is already running.
 *
 * Every podman call is an argument array through `Deno.Command`, with `CONTAINERS_CONF` set to
 * the agent's own containers.conf (podman 4.3 ignores `CONTAINERS_CONF_OVERRIDE`) and a
 * deadline. Probes run busybox inside the pod's network namespace (`nsenter --net`) against
 * 127.0.0.1; nothing here sends traffic to a pod IP.
 *
 * @example
 * ```ts
 * await PodmanRuntime.writeContainersConf("/var/lib/edge/containers.conf");
 * const runtime = new PodmanRuntime({ configPath: "/var/lib/edge/containers.conf" });
 * console.log(await runtime.version()); // "podman://4.3.1"
 * ```
 *
 * @module
 */

import { type CommandResult, errorText, runCommand } from "./_podman_command.ts";
import { nonRootViolation } from "./security.ts";
import {
  containerCreateArgs,
  containerName,
  infraName,
  podCreateArgs,
  SANDBOX_LABEL_KEYS,
  sandboxLabels,
  sandboxName,
} from "./_podman_args.ts";
import {
  byAttempt,
  containerStatus,
  infraIp,
  parseJsonList,
  type PodmanInspect,
  type PodmanPod,
  type PodmanPsContainer,
  sandboxStatus,
} from "./_podman_parse.ts";
import { IpPool } from "./_ip_pool.ts";
import {
  busyboxProbeArgs,
  busyboxProbeOutcome,
  httpProbeDirect,
  isProbeHost,
  probeTarget,
  tcpProbeDirect,
} from "./_podman_probe.ts";
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
  LABELS,
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

/**
 * The containers.conf podman needs on these nodes: runc (crun refuses hybrid cgroups), explicit
 * ulimits (raising rlimits is not permitted; they also cover each pod's infra container),
 * cgroupfs, and a file event log.
 */
export const CONTAINERS_CONF = `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`;

/** How to reach podman and the probe tools. */
export interface PodmanRuntimeOptions {
  /** the containers.conf passed to every podman call (see {@linkcode CONTAINERS_CONF}) */
  configPath: string;
  /** default `podman` (from PATH) */
  podmanPath?: string;
  /** default `nsenter` (from PATH) */
  nsenterPath?: string;
  /** a static busybox on the host, run inside pod network namespaces; default `/bin/busybox` */
  busyboxPath?: string;
  /** deadline of one podman call, default 30 s */
  timeoutMs?: number;
  /** deadline of one `podman pull`, default 5 min */
  pullTimeoutMs?: number;
}

/** Largest exec output kept in a {@linkcode ProbeOutcome} message, like the kubelet's 10 KiB. */
const MAX_EXEC_OUTPUT = 10 * 1024;
/** The environment of probe processes: nothing inherited (no proxy variables). */
const PROBE_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };

/** What the runtime knows of one podman pod; see `PodmanRuntime.#known`. */
type KnownPod = Pick<PodmanPod, "Name" | "Labels"> & Partial<Pick<PodmanPod, "Id" | "Created">> & {
  /** id or name of the infra container */
  infra?: string;
  /** ids of every container in the pod but the infra, when all are known */
  containers?: Set<string>;
  /** when this runtime made it (pods it only listed have `Created`) */
  madeAt?: Date;
};

/** A pod's state from its inspected infra container and containers (the infra is not one). */
function podState(pod: PodmanPod, inspected: readonly PodmanInspect[]): PodState {
  return {
    sandbox: sandboxStatus(pod, inspected.find((i) => i.Id === pod.InfraId)),
    containers: inspected.flatMap((i) => containerStatus(i) ?? []).sort(byAttempt),
  };
}

/** The container runtime on podman; see the module documentation. */
export class PodmanRuntime implements ContainerRuntime {
  readonly #podman: string;
  readonly #nsenter: string;
  readonly #busybox: string;
  readonly #env: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #pullTimeoutMs: number;
  /**
   * Each podman pod seen or made, by Pod uid: its name and labels are fixed by the uid, so
   * `createContainer` needs no lookup for a pod a listing has shown. With its infra container
   * and every container in it known (listed, or made here since), `observePod` is one
   * `container inspect`.
   */
  readonly #known = new Map<string, KnownPod>();
  /**
   * Images seen present, so starting a container of a known image costs no `image exists`
   * call. An image removed behind our back makes `create --pull never` fail; that failure
   * forgets the image, and the retry looks again.
   */
  readonly #present = new Set<string>();
  /** image → its id (`sha256:…`), for the status of a container just started */
  readonly #imageIds = new Map<string, string>();
  /** address pools of the pod networks sandboxes join, by network and subnet */
  readonly #pools = new Map<string, Promise<IpPool>>();
  /** the pools made so far, for giving addresses back */
  readonly #poolsMade = new Set<IpPool>();
  /**
   * Containers started by `runContainer` since their pod was last inspected, by pod uid: the
   * next `observePod` of a pod whose containers are all here answers without podman.
   */
  readonly #fresh = new Map<string, Map<string, ContainerStatus>>();

  constructor(options: PodmanRuntimeOptions) {
    this.#podman = options.podmanPath ?? "podman";
    this.#nsenter = options.nsenterPath ?? "nsenter";
    this.#busybox = options.busyboxPath ?? "/bin/busybox";
    this.#env = { CONTAINERS_CONF: options.configPath };
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#pullTimeoutMs = options.pullTimeoutMs ?? 300_000;
  }

  /** Writes {@linkcode CONTAINERS_CONF} to `path`, creating its directory. */
  static async writeContainersConf(path: string): Promise<void> {
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (dir !== "") await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(path, CONTAINERS_CONF);
  }

  async version(): Promise<string> {
    const out = await this.#podmanOk(["version", "--format", "json"], "Cannot read podman version");
    const parsed = JSON.parse(out) as { Client?: { Version?: string } };
    return `podman://${parsed.Client?.Version ?? "unknown"}`;
  }

  async ensureImage(
    image: string,
    pullPolicy: "Always" | "IfNotPresent" | "Never",
  ): Promise<boolean> {
    const ref = requireImageReference(image);
    const present = this.#present.has(image) || await this.#imageExists(image);
    if (!needsPull(ref, pullPolicy, present)) return false;
    if (pullPolicy === "Never") throw neverPullError(image);
    const pulled = await this.#run(["pull", "--quiet", image], this.#pullTimeoutMs);
    if (pulled.code !== 0) {
      const why = pulled.timedOut ? `timed out after ${this.#pullTimeoutMs}ms` : errorText(pulled);
      throw new RuntimeError("ErrImagePull", `Failed to pull image "${image}": ${why}`);
    }
    this.#present.add(image);
    const id = pulled.stdout.trim().split("\n").at(-1) ?? "";
    if (/^[0-9a-f]{64}$/.test(id)) this.#imageIds.set(image, `sha256:${id}`);
    return true;
  }

  /** Whether `image` is present (`image inspect`, which gives its id too). */
  async #imageExists(image: string): Promise<boolean> {
    const found = await this.#run(["image", "inspect", "--format", "{{.Id}}", "--", image]);
    if (found.code !== 0) {
      if (/image not known|no such image/i.test(found.stderr)) return false;
      throw new RuntimeError(
        "RuntimeError",
        `Cannot look up image "${image}": ${errorText(found)}`,
      );
    }
    this.#present.add(image);
    const id = found.stdout.trim();
    if (/^[0-9a-f]{64}$/.test(id)) this.#imageIds.set(image, `sha256:${id}`);
    return true;
  }

  async listImages(): Promise<Array<{ names: string[]; sizeBytes: number }>> {
    const out = await this.#podmanOk(["images", "--format", "json"], "Cannot list images");
    return parseJsonList<{ Names?: string[] | null; RepoDigests?: string[] | null; Size: number }>(
      out,
    ).map((image) => ({
      names: [...new Set([...(image.Names ?? []), ...(image.RepoDigests ?? [])])],
      sizeBytes: image.Size,
    }));
  }

  async createSandbox(config: SandboxConfig): Promise<SandboxStatus> {
    // Creating first saves a lookup in the usual case (the agent asks only for sandboxes it did
    // not list); when the sandbox exists, its fixed name makes `pod create` fail and we adopt it.
    validateSandboxConfig(config);
    const pool = await this.#poolOf(config);
    const ip = pool?.allocate(config.podUid);
    if (pool && ip === undefined) {
      throw new RuntimeError(
        "RuntimeError",
        `Cannot create sandbox for pod ${config.podNamespace}/${config.podName}: no free ` +
          `address left in ${config.subnet}`,
      );
    }
    const created = await this.#run(podCreateArgs(config, ip));
    if (created.code !== 0) {
      pool?.release(config.podUid);
      const existing = await this.#podOf(config.podUid);
      if (existing) {
        const held = existing.Labels?.[LABELS.podIp];
        if (held) pool?.hold(config.podUid, held);
        return await this.#startInfra(existing);
      }
      throw this.#error(
        "RuntimeError",
        `Cannot create sandbox for pod ${config.podNamespace}/${config.podName}`,
        created,
      );
    }
    const id = created.stdout.trim();
    const madeAt = new Date();
    this.#known.set(config.podUid, {
      Id: id,
      Name: sandboxName(config),
      Labels: sandboxLabels(config, ip),
      infra: infraName(config),
      containers: new Set(),
      madeAt,
    });
    if (!config.startNow) {
      // podman starts the infra container with the pod's first container; a fixed address is
      // known already
      return {
        id,
        podUid: config.podUid,
        podName: config.podName,
        podNamespace: config.podNamespace,
        ip: ip ?? "",
        state: "notready",
        createdAt: madeAt,
      };
    }
    const started = await this.#run(["pod", "start", id]);
    if (started.code !== 0) {
      await this.#addressTaken(config.podUid, started.stderr);
      throw this.#error("RuntimeError", `Cannot start sandbox ${sandboxName(config)}`, started);
    }
    const pod = await this.#podOf(config.podUid);
    if (!pod) {
      throw new RuntimeError("RuntimeError", `Sandbox ${sandboxName(config)} vanished after start`);
    }
    return sandboxStatus(pod, (await this.#inspect([pod.InfraId]))[0]);
  }

  async listSandboxes(node: string): Promise<SandboxStatus[]> {
    const pods = await this.#pods(`label=${LABELS.node}=${node}`);
    const infras = new Map((await this.#inspect(pods.map((p) => p.InfraId))).map((i) => [i.Id, i]));
    return pods.map((pod) => sandboxStatus(pod, infras.get(pod.InfraId)));
  }

  /** One `pod ps` of the node's pods, then one `container inspect` of all their containers. */
  async listNodeState(node: string): Promise<NodeState> {
    const pods = await this.#pods(`label=${LABELS.node}=${node}`);
    const ids = new Set(pods.flatMap((p) => [p.InfraId, ...(p.Containers ?? []).map((c) => c.Id)]));
    const inspected = await this.#inspect([...ids]);
    const byId = new Map(inspected.map((i) => [i.Id, i]));
    return {
      sandboxes: pods.map((pod) => sandboxStatus(pod, byId.get(pod.InfraId))),
      containers: inspected.flatMap((i) => containerStatus(i) ?? []).sort(byAttempt),
    };
  }

  /**
   * One `container inspect` of the pod's infra container and containers when all are known;
   * else one `pod ps` of the pod (by its uid label), then one `container inspect`.
   */
  async observePod(node: string, podUid: string): Promise<PodState> {
    const known = this.#known.get(podUid);
    const fresh = this.#fresh.get(podUid);
    this.#fresh.delete(podUid);
    const ip = known?.Labels?.[LABELS.podIp];
    if (
      fresh && ip && known?.Id && known.madeAt && known.containers &&
      known.containers.size > 0 && [...known.containers].every((id) => fresh.has(id)) &&
      known.Labels?.[LABELS.node] === node
    ) {
      // made here with a fixed address, and every container started since: nothing to ask
      const labels = known.Labels;
      return {
        sandbox: {
          id: known.Id,
          podUid,
          podName: labels[LABELS.podName] ?? "",
          podNamespace: labels[LABELS.podNamespace] ?? "",
          ip,
          state: "ready",
          createdAt: known.madeAt,
        },
        containers: [...fresh.values()].sort(byAttempt),
      };
    }
    if (known?.Id && known.infra && known.containers && known.Labels?.[LABELS.node] === node) {
      const inspected = await this.#inspect([known.infra, ...known.containers]);
      const infra = inspected.find((i) => i.Id === known.infra || i.Name === known.infra);
      if (infra) {
        // a pod made here: its infra container's creation (a few ms after the pod's) will do
        const created = known.Created ?? infra.Created;
        const pod = { ...known, Id: known.Id, Created: created, InfraId: infra.Id, Status: "" };
        for (const id of known.containers) {
          if (!inspected.some((i) => i.Id === id)) known.containers.delete(id);
        }
        return podState(pod, inspected);
      }
      this.#known.delete(podUid); // the pod is gone, or was remade: list it
    }
    const pod = (await this.#pods(`label=${LABELS.podUid}=${podUid}`))
      .find((p) => p.Labels?.[LABELS.node] === node);
    if (!pod) return { containers: [] };
    const inspected = await this.#inspect([
      pod.InfraId,
      ...(pod.Containers ?? []).map((c) => c.Id).filter((id) => id !== pod.InfraId),
    ]);
    return podState(pod, inspected);
  }

  async removeSandbox(podUid: string): Promise<void> {
    const pods = await this.#pods(`label=${LABELS.podUid}=${podUid}`);
    this.#known.delete(podUid);
    this.#fresh.delete(podUid);
    if (pods.length > 0) {
      await this.#podmanOk(
        ["pod", "rm", "--force", "--ignore", "--time", "0", ...pods.map((p) => p.Id)],
        `Cannot remove sandbox of pod ${podUid}`,
      );
    }
    for (const pool of this.#poolsMade) pool.release(podUid);
  }

  /**
   * The address pool of the sandbox's network, seeded once from every sandbox of the node
   * (running ones' addresses, and the fixed address each was given); undefined when the
   * sandbox gets no fixed address (host network, podman's default network, no subnet).
   */
  async #poolOf(config: SandboxConfig): Promise<IpPool | undefined> {
    if (config.hostNetwork || config.network === undefined || config.subnet === undefined) {
      return undefined;
    }
    const key = `${config.network} ${config.subnet}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      const subnet = config.subnet;
      pool = (async () => {
        const made = IpPool.of(subnet);
        if (!made) throw new RuntimeError("RuntimeError", `invalid pod subnet "${subnet}"`);
        const state = await this.listNodeState(config.node);
        for (const sandbox of state.sandboxes) {
          if (sandbox.ip) made.hold(sandbox.podUid, sandbox.ip);
        }
        for (const [uid, known] of this.#known) {
          const fixed = known.Labels?.[LABELS.podIp];
          if (fixed) made.hold(uid, fixed);
        }
        this.#poolsMade.add(made);
        return made;
      })();
      this.#pools.set(key, pool);
      pool.catch(() => this.#pools.delete(key));
    }
    return await pool;
  }

  /**
   * Whether podman refused to start a sandbox because its fixed address is taken (by a
   * container this runtime did not place): that address is marked used and the sandbox
   * removed, so the pod's next sandbox gets another.
   */
  async #addressTaken(podUid: string, stderr: string): Promise<boolean> {
    const taken = /requested ip address (\S+) is already allocated/.exec(stderr)?.[1];
    if (!taken) return false;
    for (const pool of this.#poolsMade) {
      pool.release(podUid);
      pool.hold("", taken);
    }
    const known = this.#known.get(podUid);
    this.#known.delete(podUid);
    this.#fresh.delete(podUid);
    if (known?.Name) {
      await this.#run(["pod", "rm", "--force", "--ignore", "--time", "0", known.Name]);
    }
    return true;
  }

  async createContainer(config: ContainerConfig): Promise<string> {
    const args = await this.#containerArgs(config);
    const result = await this.#run(args);
    if (result.code !== 0) throw this.#createFailed(config, result);
    return this.#made(config.podUid, result.stdout.trim());
  }

  /**
   * Notes a container `podman run` started: until its pod is next inspected, its status is
   * what the run said (running since now). A container that exits at once shows at the next
   * look, as kubelet's relist would.
   */
  #noteStarted(config: ContainerConfig, id: string): void {
    const imageId = this.#imageIds.get(config.image);
    if (!imageId || !/^[0-9a-f]{64}$/.test(id)) return;
    const now = new Date();
    let fresh = this.#fresh.get(config.podUid);
    if (!fresh) this.#fresh.set(config.podUid, fresh = new Map());
    fresh.set(id, {
      ...statusIdentity(config, id),
      imageId,
      state: "running",
      createdAt: now,
      startedAt: now,
    });
  }

  /** Notes a container made in the pod's sandbox; returns its id. */
  #made(podUid: string, id: string): string {
    this.#known.get(podUid)?.containers?.add(id);
    return id;
  }

  async runContainer(config: ContainerConfig): Promise<string> {
    const [, ...rest] = await this.#containerArgs(config);
    const result = await this.#run(["run", "--detach", ...rest]);
    if (result.code === 0) {
      const id = this.#made(config.podUid, result.stdout.trim().split("\n").at(-1) ?? "");
      this.#noteStarted(config, id);
      return id;
    }
    if (await this.#addressTaken(config.podUid, result.stderr)) {
      throw this.#error("RunContainerError", "Cannot start container", result);
    }
    // Made but not started (a bad command, a mount runc refuses), or not made at all? podman
    // exits 125 for both; a container by our name tells, unless the name was taken before.
    const pod = this.#known.get(config.podUid);
    const name = pod && containerName(pod.Name, config.name, config.attempt);
    const taken = /is already in use/.test(result.stderr);
    if (name && !taken && (await this.#run(["container", "exists", name])).code === 0) {
      this.#known.delete(config.podUid); // it holds a container of unknown id now
      throw this.#error("RunContainerError", "Cannot start container", result);
    }
    throw this.#createFailed(config, result);
  }

  /** `podman create` arguments for `config`, in the sandbox of its pod. */
  async #containerArgs(config: ContainerConfig): Promise<string[]> {
    requireImageReference(config.image);
    validateContainerConfig(config);
    const pod = this.#known.get(config.podUid) ?? await this.#podOf(config.podUid);
    if (!pod) {
      throw new RuntimeError(
        "CreateContainerError",
        `Cannot create container '${config.name}': no sandbox for pod ${config.podUid}`,
      );
    }
    const labels = pod.Labels ?? {};
    const security = config.security;
    // the image's user matters without runAsUser: runAsNonRoot checks it, runAsGroup keeps it
    if (
      security && security.runAsUser === undefined &&
      (security.runAsNonRoot || security.runAsGroup !== undefined)
    ) {
      const who = `${labels[LABELS.podName] ?? ""}_${
        labels[LABELS.podNamespace] ?? ""
      }(${config.podUid})`;
      const user = (await this.#podmanOk(
        ["image", "inspect", "--format", "{{.Config.User}}", "--", config.image],
        `Cannot inspect image "${config.image}"`,
      )).trim();
      const violation = security.runAsNonRoot
        ? nonRootViolation(user, who, config.name)
        : undefined;
      if (violation) throw new RuntimeError("CreateContainerConfigError", violation);
      if (security.runAsGroup !== undefined) {
        config = { ...config, security: { ...security, imageUser: user } };
      }
    }
    const inherited: Record<string, string> = {};
    for (const key of SANDBOX_LABEL_KEYS) {
      const value = labels[key];
      if (value !== undefined) inherited[key] = value;
    }
    return containerCreateArgs(config, pod.Name, inherited);
  }

  #createFailed(config: ContainerConfig, result: CommandResult): RuntimeError {
    this.#known.delete(config.podUid); // the pod may be gone: look it up again next time
    this.#present.delete(config.image); // so may the image
    return this.#error("CreateContainerError", `Cannot create container '${config.name}'`, result);
  }

  async startContainer(id: string): Promise<void> {
    const result = await this.#run(["start", id]);
    if (result.code !== 0) throw this.#error("RunContainerError", "Cannot start container", result);
  }

  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    const grace = Math.max(0, Math.ceil(graceSeconds));
    await this.#podmanOk(
      ["stop", "--ignore", "--time", String(grace), id],
      `Cannot stop container ${id}`,
      this.#timeoutMs + grace * 1000,
    );
  }

  async removeContainer(id: string): Promise<void> {
    await this.#podmanOk(
      ["rm", "--force", "--ignore", "--time", "0", id],
      `Cannot remove container ${id}`,
    );
    for (const pod of this.#known.values()) pod.containers?.delete(id);
  }

  async listContainers(podUid: string): Promise<ContainerStatus[]> {
    const out = await this.#podmanOk(
      ["ps", "--all", "--filter", `label=${LABELS.podUid}=${podUid}`, "--format", "json"],
      `Cannot list containers of pod ${podUid}`,
    );
    const ids = parseJsonList<PodmanPsContainer>(out).filter((c) => !c.IsInfra).map((c) => c.Id);
    return (await this.#inspect(ids))
      .flatMap((inspect) => containerStatus(inspect) ?? [])
      .sort(byAttempt);
  }

  async exec(id: string, command: string[], timeoutMs: number): Promise<ProbeOutcome> {
    const result = await this.#run(["exec", "--", id, ...command], timeoutMs);
    if (result.timedOut) {
      return { success: false, message: `command timed out after ${timeoutMs}ms` };
    }
    const output = (result.stdout + result.stderr).trim().slice(0, MAX_EXEC_OUTPUT);
    if (result.code === 0) return { success: true, message: output };
    return { success: false, message: output === "" ? `exit code ${result.code}` : output };
  }

  async probe(podUid: string, probe: NetworkProbe, timeoutMs: number): Promise<ProbeOutcome> {
    const pod = await this.#podOf(podUid);
    const infra = pod && (await this.#inspect([pod.InfraId]))[0];
    if (!infra) return { success: false, message: `no sandbox for pod ${podUid}` };
    if (!infra.State.Running || infra.State.Pid <= 0) {
      return { success: false, message: `sandbox of pod ${podUid} is not running` };
    }
    const hostNetwork = infra.HostConfig?.NetworkMode === "host";
    // kubelet's default is the pod's IP; from inside its namespace that is a local address
    const host = probe.host || (hostNetwork ? "" : infraIp(infra)) || "127.0.0.1";
    if (!isProbeHost(host)) {
      return {
        success: false,
        message: `${probeTarget(probe, "invalid-host")}: invalid host ${JSON.stringify(host)}`,
      };
    }
    if (hostNetwork && probe.kind === "tcp") {
      return await tcpProbeDirect(probe.port, timeoutMs, host);
    }
    if (hostNetwork && probe.kind === "http" && probe.scheme === "HTTP") {
      return await httpProbeDirect(probe, timeoutMs, host);
    }
    // busybox: in the pod's namespace, or for HTTPS on the host (Deno cannot skip verification)
    const busybox = [this.#busybox, ...busyboxProbeArgs(probe, timeoutMs, this.#busybox, host)];
    const [path, args] = hostNetwork
      ? [this.#busybox, busybox.slice(1)]
      : [this.#nsenter, ["--target", String(infra.State.Pid), "--net", "--", ...busybox]];
    const result = await this.#spawn(path, args, { timeoutMs, clearEnv: true, env: PROBE_ENV });
    return busyboxProbeOutcome(probe, result, timeoutMs, host);
  }

  logs(id: string, options: LogOptions): ReadableStream<Uint8Array> {
    const args = ["logs"];
    if (options.follow) args.push("--follow");
    if (options.tailLines !== undefined) args.push("--tail", String(options.tailLines));
    if (options.timestamps) args.push("--timestamps");
    if (options.sinceSeconds !== undefined) {
      args.push("--since", new Date(Date.now() - options.sinceSeconds * 1000).toISOString());
    }
    args.push("--", id);
    const kill = new AbortController();
    const onAbort = () => kill.abort();
    let done: Promise<void> = Promise.resolve();
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (options.signal?.aborted) return controller.close();
        options.signal?.addEventListener("abort", onAbort, { once: true });
        done = this.#streamLogs(id, args, kill.signal, controller)
          .finally(() => options.signal?.removeEventListener("abort", onAbort));
      },
      cancel: async () => {
        kill.abort();
        await done;
      },
    });
  }

  /** Runs `podman logs` into `controller` until it ends or `signal` aborts. */
  async #streamLogs(
    id: string,
    args: string[],
    signal: AbortSignal,
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    let open = true;
    const finish = (error?: unknown) => {
      if (!open) return;
      open = false;
      try {
        if (error === undefined) controller.close();
        else controller.error(error);
      } catch {
        // the reader cancelled the stream already
      }
    };
    const exists = await this.#run(["container", "exists", id]);
    if (exists.code !== 0) {
      return finish(this.#error("RuntimeError", `Cannot read logs of container ${id}`, {
        ...exists,
        stderr: exists.stderr || `no such container ${id}`,
      }));
    }
    if (signal.aborted) return finish();
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(this.#podman, {
        args,
        env: this.#env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal,
      }).spawn();
    } catch (error) {
      return finish(new RuntimeError("RuntimeError", `Cannot run ${this.#podman}: ${error}`));
    }
    const pump = async (source: ReadableStream<Uint8Array>) => {
      for await (const chunk of source) {
        if (!open) continue;
        try {
          controller.enqueue(chunk);
        } catch {
          open = false;
        }
      }
    };
    await Promise.all([pump(child.stdout), pump(child.stderr)]);
    const status = await child.status;
    if (status.success || signal.aborted) return finish();
    finish(new RuntimeError("RuntimeError", `podman logs ${id} exited with code ${status.code}`));
  }

  /** The podman pod of a Pod (by its uid label), if any. */
  async #podOf(podUid: string): Promise<PodmanPod | undefined> {
    return (await this.#pods(`label=${LABELS.podUid}=${podUid}`))[0];
  }

  async #pods(filter: string): Promise<PodmanPod[]> {
    const out = await this.#podmanOk(
      ["pod", "ps", "--filter", filter, "--format", "json"],
      "Cannot list sandboxes",
    );
    const pods = parseJsonList<PodmanPod>(out);
    for (const pod of pods) {
      const uid = pod.Labels?.[LABELS.podUid];
      if (uid === undefined) continue;
      const ids = (pod.Containers ?? []).map((c) => c.Id).filter((id) => id !== pod.InfraId);
      this.#known.set(uid, { ...pod, infra: pod.InfraId, containers: new Set(ids) });
    }
    return pods;
  }

  /** Starts a sandbox's infra container if it stopped (not the pod: that would start all). */
  async #startInfra(pod: PodmanPod): Promise<SandboxStatus> {
    let infra = (await this.#inspect([pod.InfraId]))[0];
    if (!infra?.State.Running) {
      await this.#podmanOk(["start", pod.InfraId], `Cannot start sandbox ${pod.Name}`);
      infra = (await this.#inspect([pod.InfraId]))[0];
    }
    return sandboxStatus(pod, infra);
  }

  /** `podman container inspect` of several containers; ones gone meanwhile are left out. */
  async #inspect(ids: string[]): Promise<PodmanInspect[]> {
    if (ids.length === 0) return [];
    const result = await this.#run(["container", "inspect", "--format", "json", ...ids]);
    if (result.code !== 0 && !/no such container/i.test(result.stderr)) {
      throw this.#error("RuntimeError", "Cannot inspect containers", result);
    }
    return parseJsonList<PodmanInspect>(result.stdout);
  }

  /** Runs podman and returns its stdout; a failure throws a RuntimeError saying `action`. */
  async #podmanOk(args: string[], action: string, timeoutMs?: number): Promise<string> {
    const result = await this.#run(args, timeoutMs);
    if (result.code !== 0) throw this.#error("RuntimeError", action, result);
    return result.stdout;
  }

  #run(args: string[], timeoutMs = this.#timeoutMs): Promise<CommandResult> {
    return this.#spawn(this.#podman, args, { timeoutMs, env: this.#env });
  }

  async #spawn(
    path: string,
    args: string[],
    options: Parameters<typeof runCommand>[2],
  ): Promise<CommandResult> {
    try {
      return await runCommand(path, args, options);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new RuntimeError("RuntimeError", `Cannot run ${path}: ${why}`);
    }
  }

  #error(reason: RuntimeErrorReason, action: string, result: CommandResult): RuntimeError {
    const why = result.timedOut ? "podman timed out" : errorText(result);
    return new RuntimeError(reason, `${action}: ${why}`);
  }
}

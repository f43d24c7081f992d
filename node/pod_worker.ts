/**
 * `PodWorker`: runs one pod on the node, level-based, in the manner of kubelet's
 * `computePodActions` + `SyncPod`. Each {@linkcode PodWorker.sync} compares the desired pod
 * with what the runtime has (found by labels, so a restarted agent adopts what is running)
 * and takes the next steps:
 *
 * 1. create the sandbox when it is missing, once the pod's volumes can be mounted (the
 *    `volumesReady` hook: a PersistentVolumeClaim must be bound first);
 * 2. kill running app containers whose spec hash changed (they are replaced at once) or whose
 *    liveness/startup probe failed;
 * 3. run init containers one at a time, in order, each to a zero exit; a failed one is
 *    restarted with back-off, or fails the pod under `restartPolicy: Never`. A sidecar (an init
 *    container with `restartPolicy: Always`) is started in its turn and the next one waits
 *    only until it has started (its startup probe passed); it keeps running beside the app
 *    containers, restarted with back-off whenever it exits, whatever the pod's policy;
 * 4. then start every app container, and restart exited ones per `restartPolicy` with
 *    crash-loop back-off (10 s doubling to 5 min, reset after 10 min running); once they have
 *    all stopped for good (`restartPolicy` Never or OnFailure), the sidecars are stopped too,
 *    last one first;
 * 5. remove instances older than the previous one (kept for `lastState` and `logs --previous`).
 *
 * Image, config and runtime errors never escape `sync`: they become the container's waiting
 * reason (`ErrImagePull`, `ImagePullBackOff`, `CreateContainerConfigError`, …) and are
 * retried. The worker wakes itself through the {@linkcode Clock} when a back-off ends or a
 * probe result changes, re-syncs the last pod it was given and hands the status to
 * `onStatus`.
 *
 * Along the way the worker reports kubelet's pod Events through the `events` option: `Pulled`,
 * `Created`, `Started`, `Killing`, `BackOff`, `Unhealthy`, `Failed` and `FailedMount`.
 *
 * While `volumesReady` reports a problem, the pod gets no sandbox: its containers wait
 * (`ContainerCreating`), its `PodReadyToStartContainers` condition is False with the problem's
 * reason and message, a `FailedMount` Event says why once the problem has lasted 5 s (again
 * when it changes, and every two minutes while it lasts, as kubelet's mount wait times out),
 * and each relist asks again. A pod that has its sandbox is never stopped for its volumes: like kubelet, the worker
 * keeps what it mounted.
 *
 * A pod with `metadata.deletionTimestamp` is terminated: every container gets SIGTERM with
 * the grace period (the sidecars once the others have stopped, last one first, with what is
 * left of it), then the sandbox is removed and a terminal status is returned.
 *
 * @example
 * ```ts
 * const worker = new PodWorker({
 *   runtime, clock: systemClock, nodeName: "edge-1", hostIP: "192.168.1.10",
 *   inputs: async (pod) => ({ configMaps: {}, secrets: {}, volumeDirs: await volumes(pod) }),
 *   onStatus: (status) => patchStatus(pod, status),
 * });
 * const status = await worker.sync(pod); // on every change of the pod
 * await worker.terminate(); // when the pod is gone from the API
 * ```
 *
 * @module
 */

import { NO_SECURITY_DEFAULTS, sandboxSeccomp, type SecurityDefaults } from "./security.ts";
import type { Clock } from "../storage/clock.ts";
import type { ContainerValue, PodSpecValue } from "../storage/kinds/_pod_spec.ts";
import { defaultPullPolicy, isSidecar, sysctlDotted } from "../storage/kinds/_pod_rules.ts";
import { type HookName, runHook } from "./lifecycle.ts";
import type { KubeObject } from "../storage/object.ts";
import { Backoff, formatDuration } from "./backoff.ts";
import {
  containerConfigFor,
  type ContainerInputs,
  containerSubPaths,
  specHash,
  usesPodIP,
} from "./container_config.ts";
import type { EventType, RecordEvent } from "./events.ts";
import {
  type ContainerWaiting,
  instancesOf,
  type PodStatus,
  podStatus,
  rejectedStatus,
} from "./pod_status.ts";
import { PodProbes, type ProbeResults } from "./probes.ts";
import {
  logTail,
  prepareTerminationFile,
  readTerminationFile,
  terminationFile,
} from "./termination.ts";
import {
  type ContainerConfig,
  type ContainerRuntime,
  type ContainerStatus,
  RuntimeError,
  type RuntimeErrorReason,
  type SandboxConfig,
  type SandboxStatus,
} from "./runtime.ts";

/** What the worker needs from outside the Pod to make its containers. */
export type PodInputs = Omit<ContainerInputs, "podIP" | "hostIP">;

/** Why a pod's volumes cannot be mounted yet (see {@linkcode PodWorkerOptions.volumesReady}). */
export interface VolumesNotReady {
  /** the `PodReadyToStartContainers` reason, e.g. `PersistentVolumeClaimNotBound` */
  reason: string;
  /** e.g. `persistentvolumeclaim "data" is not bound` */
  message: string;
  /** the pod's volumes that cannot be mounted, by name */
  volumes: readonly string[];
}

/** How a {@linkcode PodWorker} is wired to the node. */
export interface PodWorkerOptions {
  runtime: ContainerRuntime;
  clock: Clock;
  /** this node's name: the sandbox's node label */
  nodeName: string;
  /** this node's IP: status.hostIP and `status.hostIP` field references */
  hostIP: string;
  /**
   * The ConfigMaps and Secrets the pod's containers reference (by name, in the pod's
   * namespace; a missing name is a missing object) and the host directory of each volume.
   * Called before containers are created; a throw becomes `CreateContainerConfigError`.
   */
  inputs: (pod: KubeObject) => PodInputs | Promise<PodInputs>;
  /** status of each sync the worker starts by itself (back-off over, probe result changed) */
  onStatus?: (status: PodStatus) => void;
  /** where the worker's pod Events go (see node/events.ts); dropped by default */
  events?: RecordEvent;
  /**
   * Whether the pod's volumes can be mounted (its PersistentVolumeClaims are bound), asked
   * before its sandbox is made; undefined means ready. Without it every pod is ready.
   */
  volumesReady?: (
    pod: KubeObject,
  ) => VolumesNotReady | undefined | Promise<VolumesNotReady | undefined>;
  /**
   * Make a missing `subPath` directory inside a volume's host directory before a container
   * mounts it (see node/volumes.ts `makeSubPath`); without it, subPaths are mounted as they
   * are. A throw becomes `CreateContainerConfigError`.
   */
  makeSubPath?: (volumeDir: string, subPath: string) => Promise<void>;
  /** resolv.conf of a pod's sandbox (see node/pod_dns.ts); none keeps the runtime's */
  dns?: (pod: KubeObject) => SandboxConfig["dns"];
  /**
   * The network a new sandbox joins (the node's pod network), asked each time one is made;
   * undefined keeps the runtime's default network. Host-network pods stay on the host's.
   */
  network?: () => string | undefined;
  /** the subnet of that network, from which the runtime gives each sandbox a fixed address */
  subnet?: () => string | undefined;
  /** the cluster's DNS domain (`cluster.local`), for a pod with a subdomain */
  clusterDomain?: () => string;
  /**
   * The directory of the pod's termination message files (see node/termination.ts): each
   * container instance gets one at its `terminationMessagePath`, and what it wrote there is its
   * terminated state's message. Undefined: no termination messages.
   */
  terminationDir?: (pod: KubeObject) => string;
  /** the node's seccomp rules (see node/security.ts); default: Kubernetes' (Unconfined) */
  security?: SecurityDefaults;
  /**
   * kubelet's pod admission, asked once before a new pod (one no node has reported a status
   * for) starts: a refusal fails the pod for good, with that reason and message.
   */
  admit?: (pod: KubeObject) => { reason: string; message: string } | undefined;
  /**
   * How often to look at the runtime again while the pod is live, to notice containers that
   * exited (kubelet's PLEG relist period); 1 s by default.
   */
  relistMs?: number;
}

/** kubelet's floor for a kill's grace period (`minimumGracePeriodInSeconds`). */
const MIN_GRACE_SECONDS = 2;
/**
 * How long a postStart hook may hold its container's start. kubelet has no bound; here a hung
 * hook would hold the pod's worker (and with it the pod's status) for good.
 */
const POST_START_TIMEOUT_MS = 120_000;
/** Default period for noticing exited containers (kubelet's PLEG relist). */
const RELIST_MS = 1_000;
/** Retry delay after the runtime itself failed (listing, sandbox creation). */
const RUNTIME_RETRY_MS = 10_000;
/**
 * How long volumes may be unmountable before a FailedMount Event says so: a claim bound a
 * moment ago may not have reached the agent's cache yet, and a pod that starts a second
 * later has nothing to warn about.
 */
const FAILED_MOUNT_AFTER_MS = 5_000;
/** How often a lasting FailedMount is reported again (kubelet's mount wait times out at ~2 min). */
const FAILED_MOUNT_REPEAT_MS = 120_000;

const NOT_PROBED: ProbeResults = { ready: () => false, started: () => false };

const PROBE_NAMES = { liveness: "Liveness", readiness: "Readiness", startup: "Startup" } as const;

/** The event reason kubelet gives an image error before its `Failed` `Error: <reason>`. */
const IMAGE_ERROR_EVENTS: Partial<Record<string, string>> = {
  ErrImagePull: "Failed",
  ErrImageNeverPull: "ErrImageNeverPull",
  InvalidImageName: "InspectFailed",
};

function fieldPath(kind: "init" | "app", name: string): string {
  return kind === "init" ? `spec.initContainers{${name}}` : `spec.containers{${name}}`;
}

/** The spec of container `name` of `kind` in `pod`. */
function specOf(pod: KubeObject, kind: "init" | "app", name: string): ContainerValue | undefined {
  const spec = pod.spec as PodSpecValue;
  const list = kind === "init" ? spec.initContainers ?? [] : spec.containers;
  return list.find((c) => c.name === name);
}

function podName(pod: KubeObject): string {
  return `${pod.metadata.name ?? ""}_${pod.metadata.namespace ?? ""}(${pod.metadata.uid ?? ""})`;
}

function waitingFrom(e: unknown, fallback: RuntimeErrorReason): ContainerWaiting {
  if (e instanceof RuntimeError) {
    return { reason: e.reason === "RuntimeError" ? fallback : e.reason, message: e.message };
  }
  return { reason: fallback, message: e instanceof Error ? e.message : String(e) };
}

/**
 * The grace period for deleting `pod`: the smaller of `metadata.deletionGracePeriodSeconds`
 * and `spec.terminationGracePeriodSeconds`, at least 2 s as in kubelet.
 */
export function deletionGraceSeconds(pod: KubeObject): number {
  const spec = pod.spec as PodSpecValue;
  const fromSpec = spec.terminationGracePeriodSeconds ?? 30;
  const fromDelete = pod.metadata.deletionGracePeriodSeconds ?? fromSpec;
  return Math.max(MIN_GRACE_SECONDS, Math.min(fromDelete, fromSpec));
}

/** One pod's worker. See the module documentation. */
export class PodWorker {
  readonly #options: PodWorkerOptions;
  readonly #crashes: Backoff;
  readonly #pulls: Backoff;
  readonly #retries: Backoff;
  readonly #waiting = new Map<string, ContainerWaiting>();
  readonly #pullErrors = new Map<string, ContainerWaiting>();
  /** image pulls whose current back-off was reported as an Event */
  readonly #pullBackOffsSeen = new Set<string>();
  /** crash back-off key → the exit whose back-off was reported as an Event */
  readonly #crashBackOffsSeen = new Map<string, number>();
  #probes: PodProbes | undefined;
  /** why the pod's volumes could not be mounted at the last sync */
  #volumesNotReady: VolumesNotReady | undefined;
  /** since when the pod's volumes could not be mounted */
  #volumesNotReadySince: number | undefined;
  /** the last FailedMount Event: its message and when */
  #failedMount: { message: string; at: number } | undefined;
  #pod: KubeObject | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #queued = false;
  #wakeInMs = Infinity;
  #timer: AbortController | undefined;
  #final: PodStatus | undefined;
  #admitted = false;
  /** container id → its termination message, read once it exited ("" for none) */
  #messages = new Map<string, string>();
  #seen: { sandbox: SandboxStatus | undefined; containers: ContainerStatus[] } = {
    sandbox: undefined,
    containers: [],
  };

  constructor(options: PodWorkerOptions) {
    this.#options = options;
    this.#crashes = new Backoff(options.clock);
    this.#pulls = new Backoff(options.clock);
    this.#retries = new Backoff(options.clock);
  }

  /** True once the pod was terminated: its containers stopped and its sandbox removed. */
  get terminated(): boolean {
    return this.#final !== undefined;
  }

  /** True while the pod has no sandbox because its volumes cannot be mounted yet. */
  get waitingForVolumes(): boolean {
    return this.#volumesNotReady !== undefined && !this.#final;
  }

  /**
   * Reconcile `pod` (the latest version from the API) with the runtime and return the status
   * to report. Never throws: failures become container waiting reasons and are retried.
   */
  sync(pod: KubeObject): Promise<PodStatus> {
    this.#pod = pod;
    return this.#enqueue(() => this.#syncNow());
  }

  /**
   * Stop every container (SIGTERM, then SIGKILL after the grace period) and remove the
   * sandbox; resolves with the terminal status when done. Uses `pod` or the last pod synced;
   * `gracePeriodSeconds` overrides {@linkcode deletionGraceSeconds}.
   */
  terminate(pod?: KubeObject, gracePeriodSeconds?: number): Promise<PodStatus> {
    const target = pod ?? this.#pod;
    if (!target) {
      return Promise.reject(new Error("Cannot terminate a pod worker that never synced a pod"));
    }
    this.#pod = target;
    return this.#enqueue(() =>
      this.#terminateNow(target, gracePeriodSeconds ?? deletionGraceSeconds(target))
    );
  }

  /** Stop timers and probes without touching containers (the agent is shutting down). */
  close(): void {
    this.#timer?.abort();
    this.#timer = undefined;
    this.#probes?.stop();
  }

  #enqueue(work: () => Promise<PodStatus>): Promise<PodStatus> {
    const run = this.#chain.then(work);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  #requestSync(): void {
    if (this.#queued || this.#final || !this.#pod) return;
    this.#queued = true;
    this.#enqueue(() => {
      this.#queued = false;
      return this.#syncNow();
    }).then((status) => this.#options.onStatus?.(status), () => undefined);
  }

  #probesFor(uid: string): PodProbes {
    this.#probes ??= new PodProbes({
      runtime: this.#options.runtime,
      clock: this.#options.clock,
      podUid: uid,
      onChange: () => this.#requestSync(),
      onFailure: (name, type, message) => {
        if (!this.#pod) return;
        const spec = this.#pod.spec as PodSpecValue;
        const sidecar = (spec.initContainers ?? []).some((c) => c.name === name);
        this.#event(
          this.#pod,
          sidecar ? "init" : "app",
          name,
          "Unhealthy",
          "Warning",
          `${PROBE_NAMES[type]} probe failed: ${message}`,
        );
      },
    });
    return this.#probes;
  }

  #event(
    pod: KubeObject,
    kind: "init" | "app",
    name: string,
    reason: string,
    type: EventType,
    message: string,
  ): void {
    this.#options.events?.(pod, reason, type, message, fieldPath(kind, name));
  }

  #wake(ms: number): void {
    this.#wakeInMs = Math.min(this.#wakeInMs, Math.max(0, ms));
  }

  #arm(): void {
    this.#timer?.abort();
    this.#timer = undefined;
    const ms = this.#wakeInMs;
    this.#wakeInMs = Infinity;
    if (!Number.isFinite(ms) || this.#final) return;
    const timer = new AbortController();
    this.#timer = timer;
    this.#options.clock.sleep(ms, timer.signal).then(() => {
      if (!timer.signal.aborted) this.#requestSync();
    });
  }

  async #syncNow(): Promise<PodStatus> {
    const pod = this.#pod;
    if (!pod) throw new Error("Cannot sync a pod worker without a pod");
    if (this.#final) return this.#final;
    if (pod.metadata.deletionTimestamp) {
      return await this.#terminateNow(pod, deletionGraceSeconds(pod)).catch(() => {
        this.#wake(RUNTIME_RETRY_MS);
        this.#arm();
        return this.#status(pod, this.#waiting);
      });
    }
    if (!this.#admitted) {
      const fresh = (pod.status as { startTime?: string } | undefined)?.startTime === undefined;
      const rejection = fresh ? this.#options.admit?.(pod) : undefined;
      if (rejection) return this.#reject(pod, rejection);
      this.#admitted = true;
    }
    this.#wake(this.#options.relistMs ?? RELIST_MS);
    try {
      await this.#reconcile(pod);
    } catch {
      this.#wake(RUNTIME_RETRY_MS);
    }
    this.#arm();
    return this.#status(pod, this.#waiting);
  }

  /** Refuse the pod before anything of it runs: a Warning Event and a terminal status. */
  #reject(pod: KubeObject, rejection: { reason: string; message: string }): PodStatus {
    this.close();
    this.#options.events?.(pod, rejection.reason, "Warning", rejection.message);
    this.#final = rejectedStatus(pod, rejection, this.#options.clock.now(), this.#options.hostIP);
    return this.#final;
  }

  #status(pod: KubeObject, waiting: ReadonlyMap<string, ContainerWaiting>): PodStatus {
    const { sandbox, containers } = this.#seen;
    return podStatus(
      pod,
      sandbox,
      containers,
      this.#probes ?? NOT_PROBED,
      this.#options.clock.now(),
      waiting,
      {
        hostIP: this.#options.hostIP,
        ...(this.#volumesNotReady && !sandbox
          ? {
            notReadyToStart: {
              reason: this.#volumesNotReady.reason,
              message: this.#volumesNotReady.message,
            },
          }
          : {}),
      },
    );
  }

  async #observe(uid: string): Promise<ContainerStatus[]> {
    const { runtime, nodeName } = this.#options;
    const observed = await runtime.observePod(nodeName, uid);
    const containers = await this.#withMessages(observed.containers);
    this.#seen = { sandbox: observed.sandbox, containers };
    return containers;
  }

  /**
   * The exited containers with what they wrote to their termination file added to their message
   * (or, under FallbackToLogsOnError, after a failure with nothing written, the end of the log),
   * as kubelet's `getTerminationMessage`. Each is read once.
   */
  async #withMessages(containers: ContainerStatus[]): Promise<ContainerStatus[]> {
    const pod = this.#pod;
    const dir = pod && this.#options.terminationDir?.(pod);
    if (!pod || !dir) return containers;
    const spec = pod.spec as PodSpecValue;
    const messages = new Map<string, string>();
    const out: ContainerStatus[] = [];
    for (const c of containers) {
      if (c.state !== "exited") {
        out.push(c);
        continue;
      }
      let message = this.#messages.get(c.id);
      if (message === undefined) {
        const all = [...(spec.initContainers ?? []), ...spec.containers];
        const container = all.find((x) => x.name === c.name);
        message = container?.terminationMessagePath
          ? await readTerminationFile(terminationFile(dir, c.name, c.attempt))
          : "";
        if (
          message === "" && container?.terminationMessagePolicy === "FallbackToLogsOnError" &&
          c.exitCode !== 0
        ) {
          message = await logTail(
            this.#options.runtime.logs(c.id, { follow: false, timestamps: false, tailLines: 80 }),
          ).catch(() => "");
        }
      }
      messages.set(c.id, message);
      out.push(message ? { ...c, message: c.message ? `${c.message}: ${message}` : message } : c);
    }
    this.#messages = messages;
    return out;
  }

  async #reconcile(pod: KubeObject): Promise<void> {
    const uid = pod.metadata.uid ?? "";
    const spec = pod.spec as PodSpecValue;
    let containers = await this.#observe(uid);
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (phase === "Succeeded" || phase === "Failed") {
      this.#updateProbes(spec, uid, containers);
      return;
    }
    if (this.#seen.sandbox) this.#volumesNotReady = undefined;
    else if (!await this.#volumesMountable(pod)) return;
    const sandbox = this.#seen.sandbox ??
      await this.#options.runtime.createSandbox(this.#sandboxConfig(pod));
    const replaced = await this.#killUnwanted(pod, containers);
    if (replaced.killed) containers = await this.#options.runtime.listContainers(uid);
    const appStarted = spec.containers.some((c) =>
      instancesOf(containers, c.name, "app").length > 0
    );
    const appsDone = appsFinished(spec, containers);
    const initialized = await this.#runInit(pod, containers, sandbox, appStarted, appsDone);
    if (initialized) {
      const run = (c: ContainerValue) =>
        this.#runApp(pod, c, containers, sandbox, replaced.names.has(c.name));
      if (spec.containers.some((c) => c.lifecycle?.postStart)) {
        // kubelet starts app containers in order, each after its postStart hook (a sidecar
        // proxy's hook may hold the next container until the proxy is up)
        for (const c of spec.containers) await run(c);
      } else {
        // without hooks nothing depends on that order; side by side, a pod of two is running
        // one podman start sooner
        await Promise.all(spec.containers.map(run));
      }
    }
    if (appsDone) await this.#stopSidecars(pod, containers, graceOf(spec));
    await this.#collectGarbage(uid);
    containers = await this.#observe(uid);
    this.#updateProbes(spec, uid, containers);
  }

  /**
   * Ask `volumesReady` before a sandbox is made; while it reports a problem, remember it for
   * the status and report it as a FailedMount Event (when new or changed, then every
   * {@linkcode FAILED_MOUNT_REPEAT_MS}).
   */
  async #volumesMountable(pod: KubeObject): Promise<boolean> {
    const problem = await this.#options.volumesReady?.(pod);
    this.#volumesNotReady = problem;
    const now = this.#options.clock.now();
    if (!problem) {
      this.#failedMount = undefined;
      this.#volumesNotReadySince = undefined;
      return true;
    }
    this.#volumesNotReadySince ??= now;
    if (now - this.#volumesNotReadySince < FAILED_MOUNT_AFTER_MS) {
      this.#wake(FAILED_MOUNT_AFTER_MS - (now - this.#volumesNotReadySince));
      return false;
    }
    const message = `Unable to attach or mount volumes: unmounted volumes=` +
      `[${problem.volumes.join(" ")}]: ${problem.message}`;
    const last = this.#failedMount;
    if (last?.message !== message || now - last.at >= FAILED_MOUNT_REPEAT_MS) {
      this.#failedMount = { message, at: now };
      this.#options.events?.(pod, "FailedMount", "Warning", message);
    }
    return false;
  }

  #updateProbes(spec: PodSpecValue, uid: string, containers: ContainerStatus[]): void {
    const probed = [
      ...(spec.initContainers ?? []).filter(isSidecar).map((c) => ({ c, kind: "init" as const })),
      ...spec.containers.map((c) => ({ c, kind: "app" as const })),
    ];
    const running = probed.flatMap(({ c, kind }) => {
      const newest = instancesOf(containers, c.name, kind).at(-1);
      if (newest?.state !== "running") return [];
      return [{ spec: c, id: newest.id, startedAt: newest.startedAt?.getTime() ?? 0 }];
    });
    if (running.length === 0 && !this.#probes) return;
    this.#probesFor(uid).update(running);
  }

  #sandboxConfig(pod: KubeObject): SandboxConfig {
    const spec = pod.spec as PodSpecValue;
    const config: SandboxConfig = {
      podUid: pod.metadata.uid ?? "",
      podName: pod.metadata.name ?? "",
      podNamespace: pod.metadata.namespace ?? "",
      node: this.#options.nodeName,
      hostname: spec.hostname ?? pod.metadata.name ?? "",
      hostNetwork: spec.hostNetwork === true,
      startNow: spec.hostNetwork !== true && usesPodIP(spec),
      portMappings: [...(spec.initContainers ?? []), ...spec.containers].flatMap((c) =>
        (c.ports ?? []).flatMap((p) =>
          p.hostPort
            ? [{
              hostPort: p.hostPort,
              containerPort: p.containerPort,
              protocol: p.protocol === "UDP" ? "UDP" as const : "TCP" as const,
            }]
            : []
        )
      ),
    };
    const sysctls = spec.securityContext?.sysctls ?? [];
    if (sysctls.length > 0) {
      config.sysctls = sysctls.map(({ name, value }) => ({ name: sysctlDotted(name), value }));
    }
    if (spec.shareProcessNamespace === true) config.sharePid = true;
    const domain = this.#options.clusterDomain?.();
    if (spec.subdomain && domain) {
      // kubelet's GeneratePodHostNameAndDomain: hostname.subdomain.namespace.svc.domain
      config.fqdn = `${config.hostname}.${spec.subdomain}.${config.podNamespace}.svc.${domain}`;
      if (spec.setHostnameAsFQDN === true) config.hostname = config.fqdn;
    }
    const aliases = (spec.hostAliases ?? []).filter((a) => (a.hostnames ?? []).length > 0);
    if (aliases.length > 0) {
      config.hostAliases = aliases.map((a) => ({ ip: a.ip, hostnames: a.hostnames ?? [] }));
    }
    if (spec.hostIPC === true) config.hostIPC = true;
    const dns = this.#options.dns?.(pod);
    if (dns) config.dns = dns;
    try {
      config.seccomp = sandboxSeccomp(pod, this.#options.security ?? NO_SECURITY_DEFAULTS);
    } catch {
      // a bad pod-level Localhost profile: each container reports it; the infra stays confined
      config.seccomp = { type: "RuntimeDefault" };
    }
    const network = config.hostNetwork ? undefined : this.#options.network?.();
    if (network !== undefined) {
      config.network = network;
      const subnet = this.#options.subnet?.();
      if (subnet !== undefined) {
        config.subnet = subnet;
        // a sandbox given a fixed address from its subnet has it before it starts
        config.startNow = false;
      }
    }
    return config;
  }

  /** Kill running app containers that must go; names whose spec changed restart at once. */
  async #killUnwanted(
    pod: KubeObject,
    containers: readonly ContainerStatus[],
  ): Promise<{ killed: boolean; names: Set<string> }> {
    const spec = pod.spec as PodSpecValue;
    const names = new Set<string>();
    let killed = false;
    for (const c of containers) {
      if (c.state !== "running") continue;
      const want = c.kind === "app"
        ? spec.containers.find((s) => s.name === c.name)
        : (spec.initContainers ?? []).find((s) => s.name === c.name);
      // a regular init container runs to its end; sidecars are replaced like app containers
      if (c.kind === "init" && (!want || !isSidecar(want))) continue;
      const newest = instancesOf(containers, c.name, c.kind).at(-1);
      const grace = graceOf(spec);
      if (!want || newest?.id !== c.id) {
        await this.#stop(pod, c, grace, `Stopping container ${c.name}`);
        killed = true;
      } else if (c.specHash !== specHash(want)) {
        const message = `Container ${c.name} definition changed, will be restarted`;
        await this.#stop(pod, c, grace, message);
        names.add(c.name);
        killed = true;
      } else if (this.#probes?.livenessFailed(c.name)) {
        const failure = this.#probes.failure(c.name);
        const probe = failure?.type === "startup" ? want.startupProbe : want.livenessProbe;
        const probeGrace = probe?.terminationGracePeriodSeconds ?? grace;
        const message = `Container ${c.name} failed ${failure?.type ?? "liveness"} probe, ` +
          "will be restarted";
        await this.#stop(pod, c, Math.max(MIN_GRACE_SECONDS, probeGrace), message);
        killed = true;
      }
    }
    return { killed, names };
  }

  /**
   * Run init containers in order; true once all have exited 0 and every sidecar has started.
   * Once an app container has run, only the sidecars are kept running (until `appsDone`).
   */
  async #runInit(
    pod: KubeObject,
    containers: readonly ContainerStatus[],
    sandbox: SandboxStatus,
    appStarted: boolean,
    appsDone: boolean,
  ): Promise<boolean> {
    const spec = pod.spec as PodSpecValue;
    for (const c of spec.initContainers ?? []) {
      const newest = instancesOf(containers, c.name, "init").at(-1);
      if (isSidecar(c)) {
        if (appsDone) continue;
        if (!await this.#runSidecar(pod, c, newest, sandbox) && !appStarted) return false;
        continue;
      }
      if (appStarted) continue;
      if (newest?.state === "exited" && newest.exitCode === 0) {
        this.#waiting.delete(c.name);
        continue;
      }
      if (!newest) await this.#start(pod, c, "init", 0, sandbox);
      else if (newest.state === "created") {
        await this.#startExisting(pod, "init", c.name, newest.id);
      } else if (newest.state === "exited" && spec.restartPolicy !== "Never") {
        await this.#restart(pod, c, "init", newest, sandbox, false);
      } else if (newest.state === "exited") this.#waiting.delete(c.name);
      return false;
    }
    return true;
  }

  /**
   * Keep sidecar `c` running (started, or restarted with back-off when it exited); true once
   * it has started: running, and past its startup probe if it has one.
   */
  async #runSidecar(
    pod: KubeObject,
    c: ContainerValue,
    newest: ContainerStatus | undefined,
    sandbox: SandboxStatus,
  ): Promise<boolean> {
    let running = newest?.state === "running" || newest?.state === "unknown";
    if (!newest) running = await this.#start(pod, c, "init", 0, sandbox);
    else if (newest.state === "created") {
      running = await this.#startExisting(pod, "init", c.name, newest.id);
    } else if (newest.state === "exited") {
      await this.#restart(pod, c, "init", newest, sandbox, false);
      return false;
    }
    if (!running) return false;
    return !c.startupProbe || (this.#probes?.started(c.name) ?? false);
  }

  /** Stop the running sidecars, last one first (kubelet stops them after the app containers). */
  async #stopSidecars(
    pod: KubeObject,
    containers: readonly ContainerStatus[],
    graceSeconds: number,
  ): Promise<void> {
    const spec = pod.spec as PodSpecValue;
    for (const c of (spec.initContainers ?? []).filter(isSidecar).reverse()) {
      for (const instance of instancesOf(containers, c.name, "init")) {
        if (instance.state !== "running" && instance.state !== "created") continue;
        await this.#stop(pod, instance, graceSeconds, `Stopping container ${c.name}`);
      }
    }
  }

  async #runApp(
    pod: KubeObject,
    c: ContainerValue,
    containers: readonly ContainerStatus[],
    sandbox: SandboxStatus,
    replaced: boolean,
  ): Promise<void> {
    const spec = pod.spec as PodSpecValue;
    const newest = instancesOf(containers, c.name, "app").at(-1);
    if (!newest) return void await this.#start(pod, c, "app", 0, sandbox);
    if (newest.state === "running" || newest.state === "unknown") return;
    if (newest.state === "created") {
      return void await this.#startExisting(pod, "app", c.name, newest.id);
    }
    const restart = replaced || spec.restartPolicy === "Always" ||
      (spec.restartPolicy === "OnFailure" && newest.exitCode !== 0);
    if (restart) await this.#restart(pod, c, "app", newest, sandbox, replaced);
    else this.#waiting.delete(c.name);
  }

  /** Start the next instance of an exited container, unless it is in crash-loop back-off. */
  async #restart(
    pod: KubeObject,
    c: ContainerValue,
    kind: "init" | "app",
    exited: ContainerStatus,
    sandbox: SandboxStatus,
    immediately: boolean,
  ): Promise<void> {
    const key = `${c.name}/${specHash(c)}`;
    const finishedAt = exited.finishedAt?.getTime() ?? this.#options.clock.now();
    if (!immediately) {
      if (this.#crashes.isInBackOffSince(key, finishedAt)) {
        const delay = formatDuration(this.#crashes.get(key));
        this.#waiting.set(c.name, {
          reason: "CrashLoopBackOff",
          message: `back-off ${delay} restarting failed container=${c.name} pod=${podName(pod)}`,
        });
        this.#wake(this.#crashes.remaining(key, finishedAt));
        if (this.#crashBackOffsSeen.get(key) !== finishedAt) {
          this.#crashBackOffsSeen.set(key, finishedAt);
          const message = `Back-off restarting failed container ${c.name} in pod ${podName(pod)}`;
          this.#event(pod, kind, c.name, "BackOff", "Warning", message);
        }
        return;
      }
      this.#crashes.next(key, finishedAt);
    }
    await this.#start(pod, c, kind, exited.attempt + 1, sandbox);
  }

  /** Pull (per policy), create and start instance `attempt` of `c`; false when it failed. */
  async #start(
    pod: KubeObject,
    c: ContainerValue,
    kind: "init" | "app",
    attempt: number,
    sandbox: SandboxStatus,
  ): Promise<boolean> {
    const { runtime, clock } = this.#options;
    const image = c.image ?? "";
    const pullKey = `${c.name}/${image}`;
    if (this.#pulls.isInBackOffSinceUpdate(pullKey)) {
      const last = this.#pullErrors.get(pullKey);
      this.#waiting.set(
        c.name,
        last?.reason === "ErrImagePull"
          ? { reason: "ImagePullBackOff", message: `Back-off pulling image "${image}"` }
          : last ?? { reason: "ImagePullBackOff", message: `Back-off pulling image "${image}"` },
      );
      this.#wake(this.#pulls.remainingSinceUpdate(pullKey));
      if (last?.reason === "ErrImagePull" && !this.#pullBackOffsSeen.has(pullKey)) {
        this.#pullBackOffsSeen.add(pullKey);
        const message = `Back-off pulling image "${image}"`;
        this.#event(pod, kind, c.name, "BackOff", "Normal", message);
        this.#event(pod, kind, c.name, "Failed", "Warning", "Error: ImagePullBackOff");
      }
      return false;
    }
    const pullStart = clock.now();
    let pulled: boolean;
    try {
      pulled = await runtime.ensureImage(image, c.imagePullPolicy ?? defaultPullPolicy(image));
    } catch (e) {
      const waiting = waitingFrom(e, "ErrImagePull");
      this.#waiting.set(c.name, waiting);
      this.#pullErrors.set(pullKey, waiting);
      this.#pullBackOffsSeen.delete(pullKey);
      this.#pulls.next(pullKey, clock.now());
      this.#wake(this.#pulls.remainingSinceUpdate(pullKey));
      const reason = IMAGE_ERROR_EVENTS[waiting.reason] ?? "Failed";
      this.#event(pod, kind, c.name, reason, "Warning", waiting.message);
      this.#event(pod, kind, c.name, "Failed", "Warning", `Error: ${waiting.reason}`);
      return false;
    }
    this.#pulls.reset(pullKey);
    this.#pullErrors.delete(pullKey);
    this.#pullBackOffsSeen.delete(pullKey);
    const pullMessage = pulled
      ? `Successfully pulled image "${image}" in ${(clock.now() - pullStart) / 1000}s`
      : `Container image "${image}" already present on machine`;
    this.#event(pod, kind, c.name, "Pulled", "Normal", pullMessage);
    let config: ContainerConfig;
    try {
      const inputs = await this.#options.inputs(pod);
      config = containerConfigFor(pod, c, kind, attempt, {
        ...inputs,
        ...(this.#options.security ? { security: this.#options.security } : {}),
        podIP: sandbox.ip,
        hostIP: this.#options.hostIP,
      });
      await this.#makeSubPaths(pod, c, config, inputs.volumeDirs);
      const dir = this.#options.terminationDir?.(pod);
      const path = c.terminationMessagePath;
      if (dir && path && !config.mounts.some((m) => m.containerPath === path)) {
        const file = terminationFile(dir, c.name, attempt);
        await prepareTerminationFile(file);
        config.mounts.push({
          hostPath: file,
          containerPath: path,
          readOnly: false,
        });
      }
    } catch (e) {
      return this.#failedStart(pod, kind, c.name, waitingFrom(e, "CreateContainerConfigError"));
    }
    const created = `Created container ${c.name}`;
    let id: string;
    try {
      id = await runtime.runContainer(config);
    } catch (e) {
      const waiting = waitingFrom(e, "CreateContainerError");
      if (waiting.reason === "RunContainerError") {
        this.#event(pod, kind, c.name, "Created", "Normal", created);
      }
      return this.#failedStart(pod, kind, c.name, waiting);
    }
    this.#event(pod, kind, c.name, "Created", "Normal", created);
    this.#started(pod, kind, c.name);
    return await this.#postStart(pod, c, kind, id);
  }

  /** Make the container's missing subPath directories (kubelet does so before mounting). */
  async #makeSubPaths(
    pod: KubeObject,
    c: ContainerValue,
    config: ContainerConfig,
    volumeDirs: PodInputs["volumeDirs"],
  ): Promise<void> {
    const make = this.#options.makeSubPath;
    if (!make) return;
    for (const sub of containerSubPaths(pod, c, config.env, volumeDirs)) {
      try {
        await make(sub.volumeDir, sub.subPath);
      } catch (e) {
        throw new RuntimeError(
          "CreateContainerConfigError",
          `failed to create subPath directory for volumeMount "${sub.volume}" of container ` +
            `"${c.name}": ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
  }

  async #startExisting(
    pod: KubeObject,
    kind: "init" | "app",
    name: string,
    id: string,
  ): Promise<boolean> {
    try {
      await this.#options.runtime.startContainer(id);
    } catch (e) {
      return this.#failedStart(pod, kind, name, waitingFrom(e, "RunContainerError"));
    }
    this.#started(pod, kind, name);
    const c = specOf(pod, kind, name);
    return c ? await this.#postStart(pod, c, kind, id) : true;
  }

  /**
   * Run the container's postStart hook, as kubelet right after the start; when it fails, the
   * container is killed (and restarted per policy). True when the container may go on.
   */
  async #postStart(
    pod: KubeObject,
    c: ContainerValue,
    kind: "init" | "app",
    id: string,
  ): Promise<boolean> {
    if (!c.lifecycle?.postStart) return true;
    const failure = await this.#hook(pod, c, id, "postStart", POST_START_TIMEOUT_MS);
    if (failure === undefined) return true;
    this.#event(pod, kind, c.name, "FailedPostStartHook", "Warning", failure);
    this.#event(pod, kind, c.name, "Killing", "Normal", "FailedPostStartHook");
    await this.#options.runtime.stopContainer(id, graceOf(pod.spec as PodSpecValue));
    return false;
  }

  #hook(
    pod: KubeObject,
    c: ContainerValue,
    id: string,
    hook: HookName,
    timeoutMs: number,
  ): Promise<string | undefined> {
    const { runtime, clock } = this.#options;
    return runHook(
      {
        runtime,
        clock,
        podUid: pod.metadata.uid ?? "",
        podName: podName(pod),
        container: c,
        containerId: id,
      },
      hook,
      timeoutMs,
    );
  }

  /**
   * Stop a running container as kubelet's `killContainer`: its preStop hook first (bounded by
   * the grace period), then SIGTERM with what is left of it (at least 2 s), then SIGKILL.
   */
  async #stop(
    pod: KubeObject,
    instance: ContainerStatus,
    graceSeconds: number,
    message: string,
  ): Promise<void> {
    const { runtime, clock } = this.#options;
    this.#event(pod, instance.kind, instance.name, "Killing", "Normal", message);
    const c = specOf(pod, instance.kind, instance.name);
    let grace = graceSeconds;
    if (c?.lifecycle?.preStop && instance.state === "running" && graceSeconds > 0) {
      const start = clock.now();
      const failure = await this.#hook(pod, c, instance.id, "preStop", graceSeconds * 1000);
      if (failure !== undefined) {
        this.#event(pod, instance.kind, c.name, "FailedPreStopHook", "Warning", failure);
      }
      const spent = Math.floor((clock.now() - start) / 1000);
      grace = Math.max(MIN_GRACE_SECONDS, graceSeconds - spent);
    }
    await runtime.stopContainer(instance.id, grace);
  }

  #started(pod: KubeObject, kind: "init" | "app", name: string): void {
    this.#event(pod, kind, name, "Started", "Normal", `Started container ${name}`);
    this.#waiting.delete(name);
    this.#retries.reset(name);
  }

  #failedStart(
    pod: KubeObject,
    kind: "init" | "app",
    name: string,
    waiting: ContainerWaiting,
  ): boolean {
    this.#event(pod, kind, name, "Failed", "Warning", `Error: ${waiting.message}`);
    this.#waiting.set(name, waiting);
    this.#retries.next(name, this.#options.clock.now());
    this.#wake(this.#retries.remainingSinceUpdate(name));
    return false;
  }

  /** Keep the newest two instances of each container; remove older exited ones. */
  async #collectGarbage(uid: string): Promise<void> {
    const containers = await this.#options.runtime.listContainers(uid);
    const groups = new Map<string, ContainerStatus[]>();
    for (const c of containers) {
      const key = `${c.kind}/${c.name}`;
      groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    for (const group of groups.values()) {
      const sorted = instancesOf(group, group[0]?.name ?? "", group[0]?.kind ?? "app");
      for (const old of sorted.slice(0, -2)) {
        if (old.state === "exited") await this.#options.runtime.removeContainer(old.id);
      }
    }
  }

  async #terminateNow(pod: KubeObject, graceSeconds: number): Promise<PodStatus> {
    if (this.#final) return this.#final;
    const { runtime, clock } = this.#options;
    const uid = pod.metadata.uid ?? "";
    this.close();
    const containers = await runtime.listContainers(uid);
    const sidecars = new Set(
      ((pod.spec as PodSpecValue).initContainers ?? []).filter(isSidecar).map((c) => c.name),
    );
    const started = clock.now();
    await Promise.all(
      containers
        .filter((c) => c.state === "running" || c.state === "created")
        .filter((c) => !(c.kind === "init" && sidecars.has(c.name)))
        .map((c) => this.#stop(pod, c, graceSeconds, `Stopping container ${c.name}`)),
    );
    // then the sidecars, last one first, with what is left of the grace period
    const left = graceSeconds - Math.floor((clock.now() - started) / 1000);
    await this.#stopSidecars(
      pod,
      containers,
      graceSeconds === 0 ? 0 : Math.max(MIN_GRACE_SECONDS, left),
    );
    await this.#observe(uid);
    await runtime.removeSandbox(uid);
    const { sandbox, containers: stopped } = this.#seen;
    this.#final = podStatus(pod, sandbox, stopped, NOT_PROBED, clock.now(), new Map(), {
      hostIP: this.#options.hostIP,
      terminal: true,
    });
    return this.#final;
  }
}

/** Whether every app container has stopped for good: none runs, and none is to be restarted. */
function appsFinished(spec: PodSpecValue, containers: readonly ContainerStatus[]): boolean {
  if (spec.restartPolicy === "Always") return false;
  return spec.containers.every((c) => {
    const newest = instancesOf(containers, c.name, "app").at(-1);
    if (newest?.state !== "exited") return false;
    return spec.restartPolicy === "Never" || newest.exitCode === 0;
  });
}

/** The pod's termination grace period in seconds (at least {@linkcode MIN_GRACE_SECONDS}). */
function graceOf(spec: PodSpecValue): number {
  return Math.max(MIN_GRACE_SECONDS, spec.terminationGracePeriodSeconds ?? 30);
}

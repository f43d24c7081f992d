/**
 * `ContainerRuntime`: what the node agent needs from a container engine. The real one is
 * podman (`node/podman_runtime.ts`, argument arrays through `Deno.Command`); tests use the fake
 * in `node/fake_runtime.ts`.
 *
 * A Pod is one *sandbox* (a podman pod: one network namespace, one IP, containers reach each
 * other on 127.0.0.1) plus its containers. Everything the runtime creates carries labels
 * (see {@linkcode LABELS}) so a restarted agent finds and adopts it instead of recreating it.
 *
 * Every string that reaches a command line has been validated by the API (DNS labels,
 * image references) and is passed as its own argv element, never through a shell.
 *
 * @module
 */

import type { ContainerSecurity, SeccompProfile } from "./security.ts";

/** Labels put on sandboxes and containers. */
export const LABELS = {
  /** the Pod's metadata.uid */
  podUid: "io.edge.pod.uid",
  podName: "io.edge.pod.name",
  podNamespace: "io.edge.pod.namespace",
  /** the node (agent) that owns it: several agents can share one podman store in tests */
  node: "io.edge.node",
  /** the container's name in the Pod spec */
  container: "io.edge.container.name",
  /** "init" or "app" */
  containerKind: "io.edge.container.kind",
  /** how many times this container was (re)started before this instance: 0, 1, 2, … */
  attempt: "io.edge.container.attempt",
  /** hash of the container spec it was made from (a changed spec means replace) */
  specHash: "io.edge.container.spec-hash",
  /** the fixed address a sandbox was given on its network (`pod create --ip`) */
  podIp: "io.edge.pod.ip",
} as const;

/** Why the runtime failed, in the terms kubelet reports as container waiting reasons. */
export type RuntimeErrorReason =
  | "ErrImagePull"
  | "ErrImageNeverPull"
  | "InvalidImageName"
  | "CreateContainerConfigError"
  | "CreateContainerError"
  | "RunContainerError"
  | "RuntimeError";

/** A failed runtime operation; `message` is fit to show in a pod's status. */
export class RuntimeError extends Error {
  constructor(readonly reason: RuntimeErrorReason, message: string) {
    super(message);
    this.name = "RuntimeError";
  }
}

/** What a sandbox is made from. */
export interface SandboxConfig {
  podUid: string;
  podName: string;
  podNamespace: string;
  /** the node (agent) name, stored as a label */
  node: string;
  /** the pod's hostname (spec.hostname or the pod name) */
  hostname: string;
  /** share the host's network namespace (spec.hostNetwork) */
  hostNetwork: boolean;
  /**
   * the podman network to join (the node's pod network on its podCIDR); undefined joins the
   * runtime's default network. Ignored for a host-network sandbox.
   */
  network?: string;
  /**
   * the subnet of `network` (the node's podCIDR, gateway its first address): the runtime gives
   * the sandbox a fixed address from it, so its IP is known as soon as it is made
   */
  subnet?: string;
  /** resolv.conf for the pod: nameservers, search domains, options */
  dns?: { nameservers: string[]; searches: string[]; options: string[] };
  /**
   * the pod's fully qualified name (`hostname.subdomain.namespace.svc.domain`, with
   * spec.subdomain), written to /etc/hosts for the pod's fixed address
   */
  fqdn?: string;
  /** extra /etc/hosts entries (spec.hostAliases) */
  hostAliases?: Array<{ ip: string; hostnames: string[] }>;
  /** host port mappings from containers' `ports[].hostPort` */
  portMappings: Array<{ hostPort: number; containerPort: number; protocol: "TCP" | "UDP" }>;
  /**
   * Start the sandbox before returning, so its IP is known before any container starts (a
   * container's env refers to `status.podIP`). Otherwise the runtime may leave it to start
   * with the pod's first container, which saves a call on the way to a running pod.
   */
  startNow?: boolean;
  /** seccomp profile of the infra container (the pod-level one); undefined: podman's default */
  seccomp?: SeccompProfile;
  /** namespaced sysctls set in the pod's namespaces, names with dots (`securityContext.sysctls`) */
  sysctls?: Array<{ name: string; value: string }>;
  /** the containers share one PID namespace (spec.shareProcessNamespace) */
  sharePid?: boolean;
  /** the containers use the host's IPC namespace (spec.hostIPC), so the pod shares none */
  hostIPC?: boolean;
}

/** A sandbox as the runtime sees it. */
export interface SandboxStatus {
  /** runtime id of the sandbox (podman pod id) */
  id: string;
  podUid: string;
  podName: string;
  podNamespace: string;
  /** the pod IP, "" when it has none (hostNetwork or not started) */
  ip: string;
  state: "ready" | "notready";
  createdAt: Date;
}

/**
 * Everything one node runs, seen in one look: what {@linkcode ContainerRuntime.listSandboxes}
 * and {@linkcode ContainerRuntime.listContainers} of each of those sandboxes would report.
 */
export interface NodeState {
  sandboxes: SandboxStatus[];
  /** the containers of those sandboxes; within each pod, newest attempt last */
  containers: ContainerStatus[];
}

/** One pod as the runtime shows it: its sandbox, if any, and its containers. */
export interface PodState {
  sandbox?: SandboxStatus;
  /** newest attempt last, as {@linkcode ContainerRuntime.listContainers} */
  containers: ContainerStatus[];
}

/** A bind mount into a container. */
export interface Mount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

/** What a container is made from (already resolved: env values, mount sources). */
export interface ContainerConfig {
  podUid: string;
  /** the container's name in the Pod spec */
  name: string;
  kind: "init" | "app";
  /** restart count before this instance */
  attempt: number;
  /** hash of the container's spec, stored as a label */
  specHash: string;
  image: string;
  /** entrypoint override (Kubernetes `command`); undefined keeps the image's */
  command?: string[];
  /** arguments (Kubernetes `args`); undefined keeps the image's */
  args?: string[];
  workingDir?: string;
  env: Array<{ name: string; value: string }>;
  mounts: Mount[];
  /** cpu limit in millicores */
  cpuLimitMillis?: number;
  /** memory limit in bytes */
  memoryLimitBytes?: number;
  tty: boolean;
  stdin: boolean;
  /** securityContext, merged (see node/security.ts); undefined: podman's defaults */
  security?: ContainerSecurity;
  /** run in the host's PID namespace (spec.hostPID) */
  hostPID?: boolean;
  /** run in the host's IPC namespace (spec.hostIPC) */
  hostIPC?: boolean;
}

/** The fields of a container's status that its config fixes: what it is and where from. */
export function statusIdentity(
  config: ContainerConfig,
  id: string,
): Pick<ContainerStatus, "id" | "podUid" | "name" | "kind" | "attempt" | "specHash" | "image"> {
  return {
    id,
    podUid: config.podUid,
    name: config.name,
    kind: config.kind,
    attempt: config.attempt,
    specHash: config.specHash,
    image: config.image,
  };
}

/** A container as the runtime sees it. */
export interface ContainerStatus {
  /** full runtime id (64 hex for podman); Kubernetes shows it as `podman://<id>` */
  id: string;
  podUid: string;
  name: string;
  kind: "init" | "app";
  attempt: number;
  specHash: string;
  image: string;
  /** the image's id (`sha256:…`) */
  imageId: string;
  state: "created" | "running" | "exited" | "unknown";
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  /** exit code once exited */
  exitCode?: number;
  /** e.g. "OOMKilled", "Error", "Completed" once exited */
  reason?: string;
  message?: string;
}

/** Options for reading a container's log. */
export interface LogOptions {
  follow: boolean;
  /** only the last N lines */
  tailLines?: number;
  /** prefix each line with an RFC 3339 timestamp */
  timestamps: boolean;
  /** only lines newer than this many seconds */
  sinceSeconds?: number;
  /** stop following when this aborts */
  signal?: AbortSignal;
}

/**
 * A network probe, run inside the pod's network namespace against `host`, by default the pod's
 * IP (a host-network pod's: from the node against 127.0.0.1).
 */
export type NetworkProbe =
  | {
    kind: "http";
    port: number;
    path: string;
    scheme: "HTTP" | "HTTPS";
    headers: Array<{ name: string; value: string }>;
    /** `httpGet.host` */
    host?: string;
  }
  | {
    kind: "tcp";
    port: number;
    /** `tcpSocket.host` */
    host?: string;
  };

/** Outcome of a probe or exec. */
export interface ProbeOutcome {
  success: boolean;
  /** why it failed (shown in events), or output */
  message: string;
}

/** The container engine, as the agent uses it. */
export interface ContainerRuntime {
  /** The runtime's name and version, for Node.status.nodeInfo.containerRuntimeVersion. */
  version(): Promise<string>;

  /**
   * Make sure `image` is present per the pull policy. There is no registry to pull from on
   * edge gateways without one: a missing image with `Never` → ErrImageNeverPull; a missing
   * image that cannot be pulled → ErrImagePull with the engine's message. Resolves `true` when
   * the image was pulled, `false` when it was already present.
   */
  ensureImage(image: string, pullPolicy: "Always" | "IfNotPresent" | "Never"): Promise<boolean>;

  /** Images present on the node: names (`repo:tag`) and sizes, for Node.status.images. */
  listImages(): Promise<Array<{ names: string[]; sizeBytes: number }>>;

  /**
   * Create the sandbox for a pod (idempotent: returns the existing one, started). A new
   * sandbox is started now or with its first container; see {@linkcode SandboxConfig.startNow}.
   */
  createSandbox(config: SandboxConfig): Promise<SandboxStatus>;

  /** Sandboxes this node owns (by the node label), for adoption after a restart. */
  listSandboxes(node: string): Promise<SandboxStatus[]>;

  /**
   * The sandboxes this node owns and every container in them, at a cost that does not grow
   * with the number of pods (podman: two calls). This is the node-wide relist that
   * `node/cached_runtime.ts` shares between all pod workers, like kubelet's PLEG.
   */
  listNodeState(node: string): Promise<NodeState>;

  /**
   * One pod of this node: what {@linkcode listSandboxes} and {@linkcode listContainers} would
   * report for it. A pod worker's look at its pod.
   */
  observePod(node: string, podUid: string): Promise<PodState>;

  /** Stop and remove a sandbox and every container in it (idempotent). */
  removeSandbox(podUid: string): Promise<void>;

  /** Create (not start) a container in the pod's sandbox; returns its id. */
  createContainer(config: ContainerConfig): Promise<string>;

  startContainer(id: string): Promise<void>;

  /**
   * {@linkcode createContainer} and {@linkcode startContainer} in one step (podman: one
   * `run --detach` instead of two calls); resolves the new container's id. A container made but
   * not started rejects with reason `RunContainerError` and stays behind in state "created" or
   * "exited", as after a failed `startContainer`.
   */
  runContainer(config: ContainerConfig): Promise<string>;

  /** SIGTERM (or the image's stop signal), then SIGKILL after `graceSeconds`. */
  stopContainer(id: string, graceSeconds: number): Promise<void>;

  removeContainer(id: string): Promise<void>;

  /** Containers of one pod (all attempts still present), newest attempt last. */
  listContainers(podUid: string): Promise<ContainerStatus[]>;

  /** Run a command in a running container (exec probes). */
  exec(id: string, command: string[], timeoutMs: number): Promise<ProbeOutcome>;

  /** Run an http/tcp probe against 127.0.0.1 inside the pod's network namespace. */
  probe(podUid: string, probe: NetworkProbe, timeoutMs: number): Promise<ProbeOutcome>;

  /** A container's log as a byte stream (stdout and stderr interleaved). */
  logs(id: string, options: LogOptions): ReadableStream<Uint8Array>;
}

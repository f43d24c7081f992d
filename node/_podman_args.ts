/**
 * podman argument arrays for sandboxes and containers, built from the runtime's configs. Pure,
 * so the exact command lines are tested without podman. Every value is its own argv element.
 *
 * @module
 */

import { type ContainerConfig, LABELS, RuntimeError, type SandboxConfig } from "./runtime.ts";
import { seccompArgs, securityArgs } from "./security.ts";

/** podman's name for the sandbox of a pod: `edge_<namespace>_<name>_<uid prefix>`. */
export function sandboxName(config: Pick<SandboxConfig, "podNamespace" | "podName" | "podUid">) {
  return `edge_${config.podNamespace}_${config.podName}_${config.podUid.slice(0, 8)}`;
}

/**
 * podman's name for a sandbox's infra container: `<sandbox name>_infra` (no container name of
 * ours ends so: theirs end in `_<attempt>`). Known before `pod create` returns, it lets one
 * `container inspect` read a pod the runtime made.
 */
export function infraName(config: Pick<SandboxConfig, "podNamespace" | "podName" | "podUid">) {
  return `${sandboxName(config)}_infra`;
}

/** podman's name for one attempt of a container: `<sandbox name>_<container>_<attempt>`. */
export function containerName(sandbox: string, container: string, attempt: number): string {
  return `${sandbox}_${container}_${attempt}`;
}

/** The labels a sandbox carries; its containers carry them too. */
export const SANDBOX_LABEL_KEYS = [
  LABELS.podUid,
  LABELS.podName,
  LABELS.podNamespace,
  LABELS.node,
] as const;

/** Labels of a sandbox (podman copies them onto the pod's infra container). */
export function sandboxLabels(config: SandboxConfig, ip?: string): Record<string, string> {
  return {
    [LABELS.podUid]: config.podUid,
    [LABELS.podName]: config.podName,
    [LABELS.podNamespace]: config.podNamespace,
    [LABELS.node]: config.node,
    ...(ip ? { [LABELS.podIp]: ip } : {}),
  };
}

/** `--label k=v` pairs, in key order. */
export function labelArgs(labels: Record<string, string>): string[] {
  return Object.keys(labels).sort().flatMap((key) => ["--label", `${key}=${labels[key]}`]);
}

/** podman network names (and no flag or network mode in disguise). */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

function networkName(name: string): string {
  if (!NETWORK_NAME.test(name) || name === "host" || name === "none" || name === "private") {
    throw new RuntimeError("RuntimeError", `invalid podman network name "${name}"`);
  }
  return name;
}

/** `podman pod create …` arguments for a sandbox, at the fixed address `ip` if given. */
export function podCreateArgs(config: SandboxConfig, ip?: string): string[] {
  const args = [
    "pod",
    "create",
    "--name",
    sandboxName(config),
    "--infra-name",
    infraName(config),
    ...labelArgs(sandboxLabels(config, ip)),
  ];
  args.push("--hostname", config.hostname);
  if (config.seccomp) args.push(...seccompArgs(config.seccomp));
  if (config.sharePid || config.hostIPC) {
    // podman's default is "ipc,net,uts"; a host-IPC pod's containers join the host's instead
    const shared = [...(config.hostIPC ? [] : ["ipc"]), "net", "uts"];
    if (config.sharePid) shared.push("pid");
    args.push("--share", shared.join(","));
  }
  for (const { name, value } of config.sysctls ?? []) args.push("--sysctl", `${name}=${value}`);
  if (config.hostNetwork) args.push("--network", "host");
  else if (config.network !== undefined) {
    args.push("--network", networkName(config.network));
    if (ip !== undefined) {
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) {
        throw new RuntimeError("RuntimeError", `invalid sandbox address ${JSON.stringify(ip)}`);
      }
      args.push("--ip", ip);
      if (config.fqdn !== undefined) args.push("--add-host", `${config.fqdn}:${ip}`);
    }
  }
  for (const { ip, hostnames } of config.hostAliases ?? []) {
    for (const name of hostnames) args.push("--add-host", `${name}:${ip}`);
  }
  for (const server of config.dns?.nameservers ?? []) args.push("--dns", server);
  for (const search of config.dns?.searches ?? []) args.push("--dns-search", search);
  for (const option of config.dns?.options ?? []) args.push("--dns-opt", option);
  // A host-network pod listens on the host's ports already; podman refuses mappings there.
  if (!config.hostNetwork) {
    for (const port of config.portMappings) {
      args.push("-p", `${port.hostPort}:${port.containerPort}/${port.protocol.toLowerCase()}`);
    }
  }
  return args;
}

/**
 * The kernel refuses a CFS quota under 1 ms per 100 ms period, so like the kubelet we raise a
 * limit below 10 millicores to 10.
 */
export const MIN_CPU_MILLIS = 10;

/** `--cpus` value for a limit in millicores: `500` → `"0.5"`. */
export function cpusFlag(millis: number): string {
  const clamped = Math.max(MIN_CPU_MILLIS, Math.round(millis));
  return (clamped / 1000).toString();
}

/**
 * `podman create …` arguments for a container in the sandbox named `sandbox`, whose labels
 * (pod uid, name, namespace, node) the container carries too. `--pull never`: images are
 * fetched by `ensureImage`, never behind the worker's back.
 */
export function containerCreateArgs(
  config: ContainerConfig,
  sandbox: string,
  sandboxLabels: Record<string, string>,
): string[] {
  const labels: Record<string, string> = {
    ...sandboxLabels,
    [LABELS.podUid]: config.podUid,
    [LABELS.container]: config.name,
    [LABELS.containerKind]: config.kind,
    [LABELS.attempt]: String(config.attempt),
    [LABELS.specHash]: config.specHash,
  };
  const args = [
    "create",
    "--pod",
    sandbox,
    "--name",
    containerName(sandbox, config.name, config.attempt),
    "--pull",
    "never",
    ...labelArgs(labels),
  ];
  if (config.command && config.command.length > 0) {
    args.push("--entrypoint", JSON.stringify(config.command));
  }
  if (config.workingDir !== undefined) args.push("--workdir", config.workingDir);
  for (const { name, value } of config.env) args.push("--env", `${name}=${value}`);
  for (const mount of config.mounts) {
    const suffix = mount.readOnly ? ":ro" : "";
    args.push("-v", `${mount.hostPath}:${mount.containerPath}${suffix}`);
  }
  if (config.cpuLimitMillis !== undefined) args.push("--cpus", cpusFlag(config.cpuLimitMillis));
  if (config.memoryLimitBytes !== undefined) {
    // memory-swap = memory: no swap on top of the limit, as on a Kubernetes node
    const bytes = String(Math.round(config.memoryLimitBytes));
    args.push("--memory", bytes, "--memory-swap", bytes);
  }
  if (config.security) args.push(...securityArgs(config.security));
  if (config.hostPID) args.push("--pid", "host");
  if (config.hostIPC) args.push("--ipc", "host");
  if (config.tty) args.push("--tty");
  if (config.stdin) args.push("--interactive");
  args.push("--", config.image, ...(config.args ?? []));
  return args;
}

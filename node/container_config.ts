/**
 * Turning a Pod's container into the runtime's {@linkcode ContainerConfig}, as kubelet's
 * `generateContainerConfig` does: command and args with `$(VAR)` expansion, the environment
 * (literal values, `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef`,
 * `envFrom`), volume mounts (with `subPath`/`subPathExpr`; read-only for configMap and secret
 * volumes and claims mounted `readOnly`), cpu and memory limits, and the spec hash that tells
 * the pod worker a container must be replaced.
 *
 * ConfigMaps, Secrets and volume directories are looked up by the caller and handed in as a
 * {@linkcode ContainerInputs}; a missing non-optional reference is a `RuntimeError` with reason
 * `CreateContainerConfigError` and kubelet's message.
 *
 * @example
 * ```ts
 * const config = containerConfigFor(pod, pod.spec.containers[0], "app", 0, {
 *   configMaps: { settings: { LEVEL: "debug" } },
 *   secrets: {},
 *   volumeDirs: { data: "/var/lib/edge/pods/uid/volumes/data" },
 *   podIP: "10.244.0.7",
 *   hostIP: "192.168.1.10",
 * });
 * ```
 *
 * @module
 */

import { containerSecurity, NO_SECURITY_DEFAULTS, type SecurityDefaults } from "./security.ts";
import type { KubeObject } from "../storage/object.ts";
import type { ContainerValue, PodSpecValue } from "../storage/kinds/_pod_spec.ts";
import { milliValue, wholeValue } from "../storage/quantity.ts";
import { type ContainerConfig, type Mount, RuntimeError } from "./runtime.ts";

/** What a container's config needs from outside the Pod object. */
export interface ContainerInputs {
  /** `data` of the ConfigMaps in the pod's namespace, by name; an absent name does not exist */
  configMaps: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** `data` of the Secrets in the pod's namespace (base64, as stored), by name */
  secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** host directory prepared for each of the pod's volumes, by volume name */
  volumeDirs: Readonly<Record<string, string>>;
  /** the pod's IP (the sandbox's), for `status.podIP` field references */
  podIP: string;
  /** the node's IP, for `status.hostIP` field references */
  hostIP: string;
  /** node allocatable, used by `resourceFieldRef` when the container sets no limit */
  nodeAllocatable?: { cpuMillis: number; memoryBytes: number };
  /**
   * the pod's service environment variables (see `node/service_env.ts`): added after the
   * container's own, which win, and usable in `$(VAR)` references
   */
  serviceEnv?: ReadonlyMap<string, string>;
  /**
   * a resolv.conf to mount read-only at /etc/resolv.conf (host-network pods whose DNS is not
   * the node's; see node/pod_dns.ts), unless the container mounts something there itself
   */
  resolvConf?: string;
  /** the node's seccomp rules (see node/security.ts); default: Unconfined, no Localhost dir */
  security?: SecurityDefaults;
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    const entries = Object.entries(v)
      .filter(([, value]) => value !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${
      entries.map(([k, value]) => `${JSON.stringify(k)}:${canonicalJson(value)}`).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

/**
 * A stable hash of a container's spec (SHA-256 of its canonical JSON, first 16 hex digits),
 * stored as a label: a running container whose hash differs from its spec's is replaced.
 */
export function specHash(container: ContainerValue): string {
  // FNV-1a, 64 bits: synchronous (the worker's fake-clock tests and the sync path need it) and
  // needing neither node:crypto nor WebCrypto's async digest in the agent
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(canonicalJson(container))) {
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, "0");
}

/**
 * Whether some container's env refers to the pod's IP (`status.podIP`/`podIPs`), so its
 * sandbox must be started, and its IP known, before that container is made.
 */
export function usesPodIP(spec: PodSpecValue): boolean {
  return [...(spec.initContainers ?? []), ...spec.containers].some((c) =>
    (c.env ?? []).some((e) => {
      const path = e.valueFrom?.fieldRef?.fieldPath;
      return path === "status.podIP" || path === "status.podIPs";
    })
  );
}

/**
 * Kubernetes' `$(VAR)` expansion (`third_party/forked/golang/expansion`): `$(NAME)` becomes the
 * variable's value, an undefined variable stays as written, `$$` is an escaped `$`. `vars` is
 * a map, or a lookup over several (kubelet's `MappingFuncFor`).
 */
export function expandVars(
  input: string,
  vars: ReadonlyMap<string, string> | ((name: string) => string | undefined),
): string {
  const lookup = typeof vars === "function" ? vars : (name: string) => vars.get(name);
  let out = "";
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== "$" || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    let advance = 1;
    if (next === "$") out += "$";
    else if (next === "(") {
      const close = input.indexOf(")", cursor + 2);
      if (close < 0) out += "$(";
      else {
        const name = input.slice(cursor + 2, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close - cursor;
      }
    } else out += `$${next}`;
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return checkpoint === 0 ? input : out + input.slice(checkpoint);
}

function configError(message: string): RuntimeError {
  return new RuntimeError("CreateContainerConfigError", message);
}

function decodeBase64(value: string): string {
  const binary = atob(value);
  const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

const FIELD_LABEL_RE = /^metadata\.(labels|annotations)\['(.+)'\]$/;

function fieldRefValue(pod: KubeObject, path: string, inputs: ContainerInputs): string {
  const spec = pod.spec as PodSpecValue;
  const meta = pod.metadata;
  const keyed = FIELD_LABEL_RE.exec(path);
  if (keyed) {
    const map = keyed[1] === "labels" ? meta.labels : meta.annotations;
    return map?.[keyed[2] ?? ""] ?? "";
  }
  switch (path) {
    case "metadata.name":
      return meta.name ?? "";
    case "metadata.namespace":
      return meta.namespace ?? "";
    case "metadata.uid":
      return meta.uid ?? "";
    case "spec.nodeName":
      return spec.nodeName ?? "";
    case "spec.serviceAccountName":
      return spec.serviceAccountName ?? "";
    case "status.podIP":
    case "status.podIPs":
      return inputs.podIP;
    case "status.hostIP":
    case "status.hostIPs":
      return inputs.hostIP;
  }
  throw configError(`unsupported fieldPath: ${path}`);
}

function resourceFieldValue(
  pod: KubeObject,
  own: ContainerValue,
  ref: { containerName?: string | undefined; resource: string; divisor?: string | number },
  inputs: ContainerInputs,
): string {
  const spec = pod.spec as PodSpecValue;
  const target = ref.containerName
    ? [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === ref.containerName)
    : own;
  if (!target) throw configError(`container ${ref.containerName} not found in pod`);
  const [section, name] = ref.resource.split(".");
  if ((section !== "limits" && section !== "requests") || (name !== "cpu" && name !== "memory")) {
    throw configError(`unsupported container resource : ${ref.resource}`);
  }
  const quantity = target.resources[section]?.[name];
  const isCpu = name === "cpu";
  const divisor = ref.divisor ?? 1;
  if (isCpu) {
    const millis = quantity !== undefined
      ? milliValue(quantity)
      : section === "limits"
      ? inputs.nodeAllocatable?.cpuMillis ?? 0
      : 0;
    const per = milliValue(divisor);
    return String(Math.ceil(millis / per));
  }
  const bytes = quantity !== undefined
    ? wholeValue(quantity)
    : section === "limits"
    ? inputs.nodeAllocatable?.memoryBytes ?? 0
    : 0;
  return String(Math.ceil(bytes / wholeValue(divisor)));
}

interface Source {
  kind: "ConfigMap" | "Secret";
  name: string;
  data: Readonly<Record<string, string>> | undefined;
}

function source(kind: "ConfigMap" | "Secret", name: string, inputs: ContainerInputs): Source {
  const data = kind === "ConfigMap" ? inputs.configMaps[name] : inputs.secrets[name];
  return { kind, name, data };
}

function notFound(s: Source): RuntimeError {
  return configError(`${s.kind.toLowerCase()} "${s.name}" not found`);
}

function sourceValue(s: Source, value: string): string {
  return s.kind === "Secret" ? decodeBase64(value) : value;
}

/**
 * The container's environment in kubelet's order: `envFrom` sources first (keys containing
 * `=` skipped), then `env` entries, later names replacing earlier ones, then the service
 * variables the container does not define itself. Literal values are `$(VAR)`-expanded
 * against the variables defined before them and the service variables.
 *
 * @throws {RuntimeError} `CreateContainerConfigError` for a missing non-optional reference
 */
export function containerEnv(
  pod: KubeObject,
  container: ContainerValue,
  inputs: ContainerInputs,
): Array<{ name: string; value: string }> {
  const namespace = pod.metadata.namespace ?? "default";
  const vars = new Map<string, string>();
  const serviceEnv = inputs.serviceEnv ?? new Map<string, string>();
  const lookup = (name: string) => vars.get(name) ?? serviceEnv.get(name);
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const s = source(from.configMapRef ? "ConfigMap" : "Secret", ref.name ?? "", inputs);
    if (!s.data) {
      if (ref.optional === true) continue;
      throw notFound(s);
    }
    for (const [key, value] of Object.entries(s.data)) {
      const name = (from.prefix ?? "") + key;
      if (name.includes("=")) continue;
      vars.set(name, sourceValue(s, value));
    }
  }
  for (const env of container.env ?? []) {
    const from = env.valueFrom;
    if (!from) {
      vars.set(env.name, expandVars(env.value ?? "", lookup));
      continue;
    }
    if (from.fieldRef) {
      vars.set(env.name, fieldRefValue(pod, from.fieldRef.fieldPath, inputs));
    } else if (from.resourceFieldRef) {
      vars.set(env.name, resourceFieldValue(pod, container, from.resourceFieldRef, inputs));
    } else {
      const ref = from.configMapKeyRef ?? from.secretKeyRef;
      if (!ref) continue;
      const s = source(from.configMapKeyRef ? "ConfigMap" : "Secret", ref.name ?? "", inputs);
      const optional = ref.optional === true;
      if (!s.data) {
        if (optional) continue;
        throw notFound(s);
      }
      const value = s.data[ref.key];
      if (value === undefined) {
        if (optional) continue;
        throw configError(`couldn't find key ${ref.key} in ${s.kind} ${namespace}/${s.name}`);
      }
      vars.set(env.name, sourceValue(s, value));
    }
  }
  const own = [...vars].map(([name, value]) => ({ name, value }));
  const services = [...serviceEnv].filter(([name]) => !vars.has(name));
  return [...own, ...services.map(([name, value]) => ({ name, value }))];
}

function checkSubPath(subPath: string, container: string): void {
  const parts = subPath.split("/");
  if (subPath.startsWith("/") || parts.includes("..")) {
    throw configError(
      `failed to prepare subPath for volumeMount of container ${container}: ` +
        `subPath "${subPath}" must be a relative path without '..'`,
    );
  }
}

/** A `subPath` of a volume a container mounts: the directory to have inside the volume's. */
export interface SubPath {
  /** the pod's volume name */
  volume: string;
  /** the volume's host directory */
  volumeDir: string;
  /** the relative path inside it (`subPath`, or `subPathExpr` expanded) */
  subPath: string;
}

interface ResolvedMount {
  mount: Mount;
  subPath?: SubPath;
}

function resolveMounts(
  pod: KubeObject,
  container: ContainerValue,
  env: ReadonlyArray<{ name: string; value: string }>,
  volumeDirs: Readonly<Record<string, string>>,
): ResolvedMount[] {
  const spec = pod.spec as PodSpecValue;
  const vars = new Map(env.map((e) => [e.name, e.value]));
  return (container.volumeMounts ?? []).map((m) => {
    const dir = volumeDirs[m.name];
    if (dir === undefined) {
      throw configError(
        `cannot find volume "${m.name}" to mount into container "${container.name}"`,
      );
    }
    const subPath = m.subPathExpr !== undefined ? expandVars(m.subPathExpr, vars) : m.subPath;
    if (subPath) checkSubPath(subPath, container.name);
    const volume = spec.volumes?.find((v) => v.name === m.name);
    const alwaysReadOnly = volume?.configMap !== undefined || volume?.secret !== undefined ||
      volume?.persistentVolumeClaim?.readOnly === true;
    const mount = {
      hostPath: subPath ? `${dir.replace(/\/+$/, "")}/${subPath}` : dir,
      containerPath: m.mountPath,
      readOnly: m.readOnly === true || alwaysReadOnly,
    };
    return subPath ? { mount, subPath: { volume: m.name, volumeDir: dir, subPath } } : { mount };
  });
}

/**
 * Bind mounts for the container's `volumeMounts`. ConfigMap and Secret volumes are always
 * read-only, as in Kubernetes, and so is every mount of a claim whose volume source says
 * `persistentVolumeClaim.readOnly: true`.
 *
 * @throws {RuntimeError} `CreateContainerConfigError` for a volume without a host directory
 *   or a subPath that is absolute or climbs out with `..`
 */
export function containerMounts(
  pod: KubeObject,
  container: ContainerValue,
  env: ReadonlyArray<{ name: string; value: string }>,
  volumeDirs: Readonly<Record<string, string>>,
): Mount[] {
  return resolveMounts(pod, container, env, volumeDirs).map((r) => r.mount);
}

/**
 * The subPaths the container's `volumeMounts` use (`subPathExpr` expanded with `env`), which
 * must exist in their volumes before the container is made: kubelet creates missing ones.
 *
 * @throws {RuntimeError} as {@linkcode containerMounts}
 */
export function containerSubPaths(
  pod: KubeObject,
  container: ContainerValue,
  env: ReadonlyArray<{ name: string; value: string }>,
  volumeDirs: Readonly<Record<string, string>>,
): SubPath[] {
  return resolveMounts(pod, container, env, volumeDirs).flatMap((r) =>
    r.subPath ? [r.subPath] : []
  );
}

/**
 * The runtime config for `container` of `pod`, instance number `attempt` (its restart count).
 *
 * @throws {RuntimeError} `CreateContainerConfigError` with kubelet's message when a
 *   ConfigMap, Secret, key or volume it needs is missing, or a quantity is malformed
 */
export function containerConfigFor(
  pod: KubeObject,
  container: ContainerValue,
  kind: "init" | "app",
  attempt: number,
  resolved: ContainerInputs,
): ContainerConfig {
  const env = containerEnv(pod, container, resolved);
  const vars = new Map(env.map((e) => [e.name, e.value]));
  const mounts = containerMounts(pod, container, env, resolved.volumeDirs);
  if (resolved.resolvConf && !mounts.some((m) => m.containerPath === "/etc/resolv.conf")) {
    mounts.push({
      hostPath: resolved.resolvConf,
      containerPath: "/etc/resolv.conf",
      readOnly: true,
    });
  }
  const config: ContainerConfig = {
    podUid: pod.metadata.uid ?? "",
    name: container.name,
    kind,
    attempt,
    specHash: specHash(container),
    image: container.image ?? "",
    env,
    mounts,
    tty: container.tty === true,
    stdin: container.stdin === true,
  };
  if (container.command) config.command = container.command.map((c) => expandVars(c, vars));
  if (container.args) config.args = container.args.map((a) => expandVars(a, vars));
  if (container.workingDir) config.workingDir = container.workingDir;
  config.security = containerSecurity(pod, container, resolved.security ?? NO_SECURITY_DEFAULTS);
  const spec = pod.spec as PodSpecValue;
  if (spec.hostPID === true) config.hostPID = true;
  if (spec.hostIPC === true) config.hostIPC = true;
  const limits = container.resources.limits ?? {};
  try {
    if (limits.cpu !== undefined) config.cpuLimitMillis = milliValue(limits.cpu);
    if (limits.memory !== undefined) config.memoryLimitBytes = wholeValue(limits.memory);
  } catch (e) {
    throw configError((e as Error).message);
  }
  return config;
}

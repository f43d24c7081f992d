/**
 * A container's security settings from its pod's and its own `securityContext`, merged as the
 * kubelet merges them (the container's field wins), and checked before anything reaches a
 * podman command line.
 *
 * Seccomp follows Kubernetes: a container with no profile (in its own context or the pod's)
 * runs `Unconfined`, unless the agent runs with `--seccomp-default`, kubelet's flag of the
 * same name, which makes that `RuntimeDefault` (podman's default profile). `Localhost` profiles
 * are files under the agent's `<data dir>/seccomp`, kubelet's `<root dir>/seccomp`. A
 * privileged container is unconfined, as in Kubernetes.
 *
 * @example
 * ```ts
 * const security = containerSecurity(pod, pod.spec.containers[0], {
 *   seccompDefault: false,
 *   seccompDir: "/var/lib/edge/seccomp",
 * });
 * // { seccomp: { type: "Unconfined" }, runAsUser: 1000, ... }
 * ```
 *
 * @module
 */

import type { ContainerValue, PodSpecValue } from "../storage/kinds/_pod_spec.ts";
import type { KubeObject } from "../storage/object.ts";
import { RuntimeError } from "./runtime.ts";

/** A seccomp profile for podman: its own default, none, or a file of the node's. */
export type SeccompProfile =
  | { type: "RuntimeDefault" }
  | { type: "Unconfined" }
  | { type: "Localhost"; path: string };

/** What a container runs as and with; see the module documentation. */
export interface ContainerSecurity {
  seccomp: SeccompProfile;
  runAsUser?: number;
  runAsGroup?: number;
  /** the image's user must then not be root (checked by the runtime, which knows the image) */
  runAsNonRoot?: boolean;
  /**
   * the image's `USER` (`""`, `name`, `uid`, `uid:gid`), filled in by the runtime when
   * `runAsGroup` comes without `runAsUser`: the container then runs as the image's user with
   * that group, as in Kubernetes
   */
  imageUser?: string;
  supplementalGroups?: number[];
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  /** `allowPrivilegeEscalation: false` */
  noNewPrivileges?: boolean;
  /** capability names without `CAP_`, upper case; `ALL` allowed */
  capAdd?: string[];
  capDrop?: string[];
  /**
   * the AppArmor profile, on a node that enforces AppArmor: `unconfined` or a loaded
   * profile's name; undefined: the runtime's default profile (Kubernetes' RuntimeDefault)
   */
  appArmor?: string;
}

/** The node's side of the seccomp rules. */
export interface SecurityDefaults {
  /** `--seccomp-default`: RuntimeDefault, not Unconfined, for containers that name none */
  seccompDefault: boolean;
  /** where Localhost profiles are (`<data dir>/seccomp`) */
  seccompDir: string;
  /** whether this host enforces AppArmor ({@linkcode appArmorEnabled}) */
  appArmor?: boolean;
}

/** Without the agent's rules: Kubernetes' default (Unconfined); Localhost profiles refused. */
export const NO_SECURITY_DEFAULTS: SecurityDefaults = { seccompDefault: false, seccompDir: "" };

/** The prefix of the deprecated per-container AppArmor annotation, still honoured by kubelet. */
const APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/";

/** Whether this host enforces AppArmor, as kubelet asks (`/sys/module/apparmor/…/enabled`). */
export async function appArmorEnabled(
  read: (path: string) => Promise<string> = Deno.readTextFile,
): Promise<boolean> {
  try {
    return (await read("/sys/module/apparmor/parameters/enabled")).trim() === "Y";
  } catch {
    return false;
  }
}

/**
 * A container's AppArmor profile as kubelet reads it: its own `appArmorProfile`, else the
 * deprecated annotation, else the pod's; undefined when none names one (RuntimeDefault).
 */
function appArmorOf(
  pod: KubeObject,
  container: { name: string; securityContext?: ContainerSecurityContext | undefined },
): ProfileRef | undefined {
  const own = container.securityContext?.appArmorProfile;
  if (own) return own;
  const annotation = pod.metadata.annotations?.[`${APPARMOR_ANNOTATION}${container.name}`];
  if (annotation !== undefined) {
    if (annotation === "unconfined") return { type: "Unconfined" };
    if (annotation === "runtime/default") return { type: "RuntimeDefault" };
    if (annotation.startsWith("localhost/")) {
      return { type: "Localhost", localhostProfile: annotation.slice("localhost/".length) };
    }
    return { type: annotation };
  }
  return podContext(pod).appArmorProfile;
}

/**
 * kubelet's AppArmor admission: a pod (not yet running) that asks for a profile other than
 * Unconfined, for any container, is refused on a host that does not enforce AppArmor, or when
 * a Localhost profile has no name. Undefined: admitted.
 */
export function appArmorAdmission(
  pod: KubeObject,
  hostEnabled: boolean,
): { reason: string; message: string } | undefined {
  const spec = pod.spec as PodSpecValue;
  const containers = [...(spec.initContainers ?? []), ...spec.containers];
  const profiles = containers.map((c) => appArmorOf(pod, c)).filter((p) => p !== undefined);
  if (!profiles.some((p) => p.type !== "Unconfined")) return undefined;
  const refuse = (why: string) => ({
    reason: "AppArmor",
    message: `Cannot enforce AppArmor: ${why}`,
  });
  if (!hostEnabled) return refuse("AppArmor is not enabled on the host");
  for (const p of profiles) {
    if (p.type === "Localhost" && !(p.localhostProfile ?? "").trim()) {
      return refuse(`invalid empty AppArmor profile name: ${JSON.stringify(p)}`);
    }
  }
  return undefined;
}

type ProfileRef = { type?: string; localhostProfile?: string | undefined };
/** A container's `securityContext`, as the API stored it. */
type ContainerSecurityContext = NonNullable<ContainerValue["securityContext"]>;
/** A pod's `securityContext`, as the API stored it. */
type PodSecurityContext = NonNullable<PodSpecValue["securityContext"]>;

/** A Linux capability name as Kubernetes writes it (`NET_ADMIN`, `CAP_NET_ADMIN`, `ALL`). */
const CAPABILITY = /^(CAP_)?[A-Z][A-Z0-9_]{0,39}$/i;

function configError(message: string): RuntimeError {
  return new RuntimeError("CreateContainerConfigError", message);
}

function podContext(pod: KubeObject): Partial<PodSecurityContext> {
  return (pod.spec as Partial<PodSpecValue> | undefined)?.securityContext ?? {};
}

/** The profile a pod-level or container-level reference names, or the node's default. */
function seccompOf(
  ref: ProfileRef | undefined,
  defaults: SecurityDefaults,
  where: string,
): SeccompProfile {
  switch (ref?.type) {
    case "Unconfined":
      return { type: "Unconfined" };
    case "RuntimeDefault":
      return { type: "RuntimeDefault" };
    case "Localhost": {
      const name = ref.localhostProfile ?? "";
      if (name === "" || name.startsWith("/") || name.split("/").includes("..")) {
        throw configError(`${where}: invalid seccomp localhostProfile "${name}"`);
      }
      if (defaults.seccompDir === "") {
        throw configError(`${where}: this node has no directory of seccomp profiles`);
      }
      return { type: "Localhost", path: `${defaults.seccompDir}/${name}` };
    }
    default:
      return { type: defaults.seccompDefault ? "RuntimeDefault" : "Unconfined" };
  }
}

/** The seccomp profile of the pod's sandbox (its infra container): the pod-level one. */
export function sandboxSeccomp(pod: KubeObject, defaults: SecurityDefaults): SeccompProfile {
  return seccompOf(podContext(pod).seccompProfile, defaults, `pod ${pod.metadata.name}`);
}

function capabilities(names: readonly string[] | undefined, container: string): string[] {
  return (names ?? []).map((name) => {
    if (!CAPABILITY.test(name)) {
      throw configError(`container ${container}: invalid capability "${name}"`);
    }
    return name.toUpperCase().replace(/^CAP_/, "");
  });
}

/**
 * The container's security settings: its own securityContext over the pod's. Throws a
 * CreateContainerConfigError for what podman could not be given safely.
 */
export function containerSecurity(
  pod: KubeObject,
  container: { name: string; securityContext?: ContainerSecurityContext | undefined },
  defaults: SecurityDefaults,
): ContainerSecurity {
  const podSc = podContext(pod);
  const sc = container.securityContext ?? {};
  const privileged = sc.privileged === true;
  const security: ContainerSecurity = {
    seccomp: privileged ? { type: "Unconfined" } : seccompOf(
      sc.seccompProfile ?? podSc.seccompProfile,
      defaults,
      `container ${container.name}`,
    ),
  };
  const runAsUser = sc.runAsUser ?? podSc.runAsUser;
  const runAsGroup = sc.runAsGroup ?? podSc.runAsGroup;
  const runAsNonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
  if (runAsUser !== undefined) security.runAsUser = runAsUser;
  if (runAsGroup !== undefined) security.runAsGroup = runAsGroup;
  if (runAsNonRoot) {
    if (runAsUser === 0) {
      throw configError(
        `container's runAsUser breaks non-root policy (pod: "${
          podLabel(pod)
        }", container: ${container.name})`,
      );
    }
    security.runAsNonRoot = true;
  }
  // kubelet adds the pod's fsGroup to every container's groups (it owns the volumes)
  const groups = [...(podSc.supplementalGroups ?? [])];
  if (podSc.fsGroup !== undefined && !groups.includes(podSc.fsGroup)) groups.push(podSc.fsGroup);
  if (groups.length > 0) security.supplementalGroups = groups;
  if (privileged) security.privileged = true;
  const appArmor = defaults.appArmor && !privileged ? appArmorOf(pod, container) : undefined;
  if (appArmor?.type === "Unconfined") security.appArmor = "unconfined";
  else if (appArmor?.type === "Localhost") {
    const name = appArmor.localhostProfile?.trim() ?? "";
    // it becomes `--security-opt apparmor=NAME`, where `,` or `=` would be read as more options
    if (!/^[A-Za-z0-9._/:+-]{1,255}$/.test(name)) {
      throw configError(`container ${container.name}: invalid AppArmor profile name "${name}"`);
    }
    security.appArmor = name;
  }
  if (sc.readOnlyRootFilesystem) security.readOnlyRootFilesystem = true;
  if (sc.allowPrivilegeEscalation === false) {
    if (privileged) {
      throw configError(
        `container ${container.name}: cannot set allowPrivilegeEscalation to false and privileged to true`,
      );
    }
    security.noNewPrivileges = true;
  }
  const add = capabilities(sc.capabilities?.add, container.name);
  const drop = capabilities(sc.capabilities?.drop, container.name);
  if (add.length > 0) security.capAdd = add;
  if (drop.length > 0) security.capDrop = drop;
  return security;
}

/** `namespace/name (uid)` as kubelet's `format.Pod` writes a pod in messages. */
function podLabel(pod: KubeObject): string {
  return `${pod.metadata.name}_${pod.metadata.namespace ?? "default"}(${pod.metadata.uid ?? ""})`;
}

/** podman `--security-opt` for a seccomp profile (none for podman's own default). */
export function seccompArgs(profile: SeccompProfile): string[] {
  switch (profile.type) {
    case "RuntimeDefault":
      return [];
    case "Unconfined":
      return ["--security-opt", "seccomp=unconfined"];
    case "Localhost":
      return ["--security-opt", `seccomp=${profile.path}`];
  }
}

/** podman flags for a container's security settings. */
export function securityArgs(security: ContainerSecurity): string[] {
  const args = seccompArgs(security.seccomp);
  if (security.runAsUser !== undefined) {
    const group = security.runAsGroup !== undefined ? `:${security.runAsGroup}` : "";
    args.push("--user", `${security.runAsUser}${group}`);
  } else if (security.runAsGroup !== undefined && security.imageUser !== undefined) {
    const user = security.imageUser.split(":")[0] || "0";
    args.push("--user", `${user}:${security.runAsGroup}`);
  }
  for (const gid of security.supplementalGroups ?? []) args.push("--group-add", String(gid));
  if (security.privileged) args.push("--privileged");
  if (security.readOnlyRootFilesystem) args.push("--read-only", "--read-only-tmpfs=false");
  if (security.noNewPrivileges) args.push("--security-opt", "no-new-privileges");
  if (security.appArmor) args.push("--security-opt", `apparmor=${security.appArmor}`);
  for (const cap of security.capAdd ?? []) args.push("--cap-add", cap);
  for (const cap of security.capDrop ?? []) args.push("--cap-drop", cap);
  return args;
}

/**
 * Kubernetes' check of an image's user for `runAsNonRoot` without `runAsUser`: `user` is the
 * image's `USER` (`""`, `name`, `uid`, `uid:gid`). Returns the error message, or undefined
 * when the user is a numeric non-zero uid.
 */
export function nonRootViolation(user: string, pod: string, container: string): string | undefined {
  const uid = user.split(":")[0] ?? "";
  if (uid === "" || uid === "0" || uid === "root") {
    return `container has runAsNonRoot and image will run as root (pod: "${pod}", container: ${container})`;
  }
  if (!/^\d+$/.test(uid)) {
    return `container has runAsNonRoot and image has non-numeric user (${uid}), cannot verify user is non-root (pod: "${pod}", container: ${container})`;
  }
  return undefined;
}

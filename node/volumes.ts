/**
 * Pod volumes on the node: each volume of a pod gets a host directory the runtime bind-mounts
 * (emptyDir: an empty directory removed with the pod; configMap/secret: the keys written as
 * files; hostPath: the host path itself; persistentVolumeClaim: the directory of the claim's
 * PersistentVolume, its `local` or `hostPath` path).
 *
 * A claim must be Bound to an existing volume that names it before a pod using it gets a
 * sandbox: {@linkcode resolveClaims} says which volume each claim has, or why one is not ready.
 * `subPath` directories are made on demand by {@linkcode makeSubPath}, which refuses symbolic
 * links on the way (a container could plant one to reach outside its volume).
 *
 * With the pod's `securityContext.fsGroup`, emptyDir, configMap, secret and `local` volumes
 * are given to that group as kubelet's `SetVolumeOwnership` does ({@linkcode setVolumeOwnership});
 * hostPath volumes are left alone, as in Kubernetes.
 *
 * @module
 */

import {
  claimVolumeName,
  phaseOf,
  podClaimNames,
  volumeClaimRef,
  volumeHostPath,
} from "../storage/persistent_volumes.ts";
import { isPlainObject, type KubeObject } from "../storage/object.ts";
import type { VolumesNotReady } from "./pod_worker.ts";

/**
 * What a pod's volumes need from outside the Pod: ConfigMap and Secret data by name (Secret
 * data base64 as stored), and the PersistentVolume of each claim by claim name.
 */
export interface VolumeSources {
  configMaps: Readonly<Record<string, Readonly<Record<string, string>>>>;
  secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** the bound PersistentVolume of each of the pod's claims, by claim name */
  claims?: Readonly<Record<string, KubeObject>>;
  /**
   * emptyDir and `local` directories already given to the pod's fsGroup: kubelet does that
   * once per mount of a pod's volume, not at every container start, so a later call skips
   * them (and adds those it does). configMap and secret files, written anew each time, are
   * always given again.
   */
  owned?: Set<string>;
}

/** Where {@linkcode resolveClaims} looks claims and volumes up (the agent's caches). */
export interface ClaimLookup {
  claim(namespace: string, name: string): KubeObject | undefined;
  volume(name: string): KubeObject | undefined;
}

/** A claim's volume, or why the claim cannot be mounted. */
type Resolved =
  | { volume: KubeObject }
  | { reason: string; message: string };

function resolveClaim(namespace: string, name: string, lookup: ClaimLookup): Resolved {
  const claim = lookup.claim(namespace, name);
  const what = `persistentvolumeclaim "${name}"`;
  if (!claim) return { reason: "PersistentVolumeClaimNotFound", message: `${what} not found` };
  if (claim.metadata.deletionTimestamp) {
    return { reason: "PersistentVolumeClaimBeingDeleted", message: `${what} is being deleted` };
  }
  const volumeName = claimVolumeName(claim);
  const notBound = (detail = "") => ({
    reason: "PersistentVolumeClaimNotBound",
    message: `${what} is not bound${detail}`,
  });
  if (phaseOf(claim) !== "Bound" || !volumeName) return notBound();
  const volume = lookup.volume(volumeName);
  if (!volume) return notBound(`: persistentvolume "${volumeName}" not found`);
  const ref = volumeClaimRef(volume);
  const uid = claim.metadata.uid;
  if (ref?.namespace !== namespace || ref.name !== name || (ref.uid && uid && ref.uid !== uid)) {
    return notBound(`: persistentvolume "${volumeName}" is bound to another claim`);
  }
  return { volume };
}

/**
 * The PersistentVolume of each claim `pod` mounts (by claim name) and, when some claim is not
 * ready (missing, being deleted, not bound, its volume missing or bound elsewhere), why: the
 * first such claim's reason and message, and every pod volume that cannot be mounted.
 *
 * @example
 * ```ts
 * const { notReady } = resolveClaims(pod, {
 *   claim: (ns, name) => claims.get(ns, name),
 *   volume: (name) => volumes.get("", name),
 * });
 * notReady?.message; // 'persistentvolumeclaim "data" is not bound'
 * ```
 */
export function resolveClaims(
  pod: KubeObject,
  lookup: ClaimLookup,
): { claims: Record<string, KubeObject>; notReady?: VolumesNotReady } {
  const namespace = pod.metadata.namespace ?? "default";
  const claims: Record<string, KubeObject> = {};
  const problems = new Map<string, { reason: string; message: string }>();
  for (const name of podClaimNames(pod)) {
    const resolved = resolveClaim(namespace, name, lookup);
    if ("volume" in resolved) claims[name] = resolved.volume;
    else problems.set(name, resolved);
  }
  const first = problems.values().next().value;
  if (!first) return { claims };
  const spec = isPlainObject(pod.spec) ? pod.spec : {};
  const volumes = (Array.isArray(spec.volumes) ? spec.volumes : []).flatMap((v) => {
    const claim = isPlainObject(v) && isPlainObject(v.persistentVolumeClaim)
      ? v.persistentVolumeClaim.claimName
      : undefined;
    return typeof claim === "string" && problems.has(claim) ? [String(v.name)] : [];
  });
  return { claims, notReady: { ...first, volumes } };
}

/** The directory holding a pod's volumes on this node. */
export function podDir(dataDir: string, uid: string): string {
  return `${dataDir}/pods/${uid}`;
}

function decodeBase64(value: string): Uint8Array {
  return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
}

/** Names of the ConfigMaps and Secrets a pod refers to (env, envFrom, volumes). */
export function referencedSources(pod: KubeObject): { configMaps: string[]; secrets: string[] } {
  const cms = new Set<string>();
  const secrets = new Set<string>();
  const spec = isPlainObject(pod.spec) ? pod.spec : {};
  const containers = [
    ...(Array.isArray(spec.initContainers) ? spec.initContainers : []),
    ...(Array.isArray(spec.containers) ? spec.containers : []),
  ];
  for (const c of containers) {
    if (!isPlainObject(c)) continue;
    for (const e of Array.isArray(c.env) ? c.env : []) {
      const from = isPlainObject(e) && isPlainObject(e.valueFrom) ? e.valueFrom : {};
      if (isPlainObject(from.configMapKeyRef)) cms.add(String(from.configMapKeyRef.name));
      if (isPlainObject(from.secretKeyRef)) secrets.add(String(from.secretKeyRef.name));
    }
    for (const e of Array.isArray(c.envFrom) ? c.envFrom : []) {
      if (!isPlainObject(e)) continue;
      if (isPlainObject(e.configMapRef)) cms.add(String(e.configMapRef.name));
      if (isPlainObject(e.secretRef)) secrets.add(String(e.secretRef.name));
    }
  }
  for (const v of Array.isArray(spec.volumes) ? spec.volumes : []) {
    if (!isPlainObject(v)) continue;
    if (isPlainObject(v.configMap)) cms.add(String(v.configMap.name));
    if (isPlainObject(v.secret)) secrets.add(String(v.secret.secretName));
  }
  return { configMaps: [...cms], secrets: [...secrets] };
}

async function writeKeys(
  dir: string,
  data: Readonly<Record<string, string>>,
  items: unknown,
  mode: number,
  decode: boolean,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const wanted: Array<[string, string]> = Array.isArray(items) && items.length > 0
    ? items.filter(isPlainObject).map((i) => [String(i.key), String(i.path ?? i.key)])
    : Object.keys(data).map((k) => [k, k]);
  for (const [key, path] of wanted) {
    const value = data[key];
    if (value === undefined || path.split("/").includes("..") || path.startsWith("/")) continue;
    const file = `${dir}/${path}`;
    const parent = file.slice(0, file.lastIndexOf("/"));
    await Deno.mkdir(parent, { recursive: true });
    const bytes = decode ? decodeBase64(value) : new TextEncoder().encode(value);
    await Deno.writeFile(file, bytes, { mode });
    await Deno.chmod(file, mode);
  }
}

/**
 * Make every volume of `pod` ready on the host and return volume name → host directory.
 * A configMap/secret volume whose object is missing is skipped unless `optional` is false,
 * in which case the worker reports the missing object when it resolves the container.
 */
export async function prepareVolumes(
  dataDir: string,
  pod: KubeObject,
  sources: VolumeSources,
): Promise<Record<string, string>> {
  const spec = isPlainObject(pod.spec) ? pod.spec : {};
  const base = `${podDir(dataDir, pod.metadata.uid!)}/volumes`;
  const dirs: Record<string, string> = {};
  const sc = isPlainObject(spec.securityContext) ? spec.securityContext : {};
  const fsGroup = typeof sc.fsGroup === "number" ? sc.fsGroup : undefined;
  const policy = sc.fsGroupChangePolicy === "OnRootMismatch" ? "OnRootMismatch" : "Always";
  const own = async (dir: string, readOnly: boolean) => {
    if (fsGroup !== undefined) await setVolumeOwnership(dir, fsGroup, readOnly, policy);
  };
  const ownOnce = async (dir: string) => {
    if (fsGroup === undefined || sources.owned?.has(dir)) return;
    await own(dir, false);
    sources.owned?.add(dir);
  };
  for (const v of Array.isArray(spec.volumes) ? spec.volumes : []) {
    if (!isPlainObject(v) || typeof v.name !== "string") continue;
    const dir = `${base}/${v.name}`;
    if (isPlainObject(v.emptyDir)) {
      await Deno.mkdir(dir, { recursive: true, mode: 0o777 });
      await Deno.chmod(dir, 0o777);
      await ownOnce(dir);
      dirs[v.name] = dir;
    } else if (isPlainObject(v.hostPath) && typeof v.hostPath.path === "string") {
      await prepareHostPath(v.hostPath.path, v.hostPath.type);
      dirs[v.name] = v.hostPath.path;
    } else if (isPlainObject(v.persistentVolumeClaim)) {
      const claim = String(v.persistentVolumeClaim.claimName);
      const volume = sources.claims?.[claim];
      if (!volume) {
        throw new Error(`cannot find the volume of persistentvolumeclaim "${claim}"`);
      }
      dirs[v.name] = await prepareClaimVolume(volume);
      const local = isPlainObject(volume.spec) && isPlainObject(volume.spec.local);
      if (local && v.persistentVolumeClaim.readOnly !== true) await ownOnce(dirs[v.name]!);
    } else if (isPlainObject(v.configMap)) {
      const data = sources.configMaps[String(v.configMap.name)];
      if (!data) continue;
      const mode = typeof v.configMap.defaultMode === "number" ? v.configMap.defaultMode : 0o644;
      await writeKeys(dir, data, v.configMap.items, mode, false);
      await own(dir, true);
      dirs[v.name] = dir;
    } else if (isPlainObject(v.secret)) {
      const data = sources.secrets[String(v.secret.secretName)];
      if (!data) continue;
      const mode = typeof v.secret.defaultMode === "number" ? v.secret.defaultMode : 0o644;
      await writeKeys(dir, data, v.secret.items, mode, true);
      await own(dir, true);
      dirs[v.name] = dir;
    }
  }
  return dirs;
}

/**
 * kubelet's `SetVolumeOwnership`: every file and directory of the volume gets group `fsGroup`,
 * group read (and write unless `readOnly`), and directories group execute and the setgid bit,
 * so what containers make there stays in the group. Symbolic links are not followed. With
 * `OnRootMismatch`, nothing is walked when the root already has the group, the setgid bit and
 * those permissions.
 */
export async function setVolumeOwnership(
  dir: string,
  fsGroup: number,
  readOnly: boolean,
  policy: "Always" | "OnRootMismatch",
): Promise<void> {
  const mask = readOnly ? 0o440 : 0o660;
  if (policy === "OnRootMismatch") {
    const root = await Deno.lstat(dir);
    const mode = root.mode ?? 0;
    if (
      root.gid === fsGroup && (mode & 0o2000) !== 0 && (mode & (mask | 0o110)) === (mask | 0o110)
    ) {
      return;
    }
  }
  const walk = async (path: string): Promise<void> => {
    const info = await Deno.lstat(path);
    if (info.isSymlink) return;
    await Deno.chown(path, null, fsGroup);
    let mode = ((info.mode ?? 0) & 0o7777) | mask;
    if (info.isDirectory) mode |= 0o2000 | 0o110;
    await Deno.chmod(path, mode);
    if (!info.isDirectory) return;
    for await (const entry of Deno.readDir(path)) await walk(`${path}/${entry.name}`);
  };
  await walk(dir);
}

/** A hostPath's `type` check, as kubelet's: DirectoryOrCreate makes it, Directory needs one. */
async function prepareHostPath(path: string, type: unknown): Promise<void> {
  if (type === "DirectoryOrCreate") {
    await Deno.mkdir(path, { recursive: true, mode: 0o755 });
  } else if (type === "Directory") {
    const info = await Deno.stat(path).catch(() => undefined);
    if (!info?.isDirectory) {
      throw new Error(`hostPath type check failed: ${path} is not a directory`);
    }
  }
}

/** The host directory of a claim's PersistentVolume, checked or made as its source says. */
async function prepareClaimVolume(volume: KubeObject): Promise<string> {
  const name = volume.metadata.name ?? "";
  const path = volumeHostPath(volume);
  if (!path?.startsWith("/") || path.split("/").includes("..")) {
    throw new Error(
      `persistentvolume "${name}" has no local or hostPath source with an absolute path`,
    );
  }
  const spec = isPlainObject(volume.spec) ? volume.spec : {};
  if (isPlainObject(spec.hostPath) && typeof spec.hostPath.path === "string") {
    await prepareHostPath(path, spec.hostPath.type);
    return path;
  }
  const info = await Deno.stat(path).catch(() => undefined);
  if (!info) {
    throw new Error(
      `MountVolume.NewMounter initialization failed for volume "${name}" : ` +
        `path "${path}" does not exist`,
    );
  }
  if (!info.isDirectory) {
    throw new Error(`persistentvolume "${name}": local path "${path}" is not a directory`);
  }
  return path;
}

/**
 * Make the `subPath` directory `subPath` inside the volume directory `volumeDir` when it is
 * missing, as kubelet does before it bind-mounts it, with the volume directory's mode. An
 * existing last component may be a file (a subPath naming one file of a volume). Refuses a
 * `subPath` that is absolute or climbs out with `..`, and any symbolic link on the way: a
 * container could have planted one to have the next container mount a host directory.
 */
export async function makeSubPath(volumeDir: string, subPath: string): Promise<void> {
  const parts = subPath.split("/").filter((p) => p !== "" && p !== ".");
  if (subPath.startsWith("/") || parts.includes("..")) {
    throw new Error(`subPath "${subPath}" must be a relative path without '..'`);
  }
  const base = await Deno.stat(volumeDir);
  const mode = (base.mode ?? 0o755) & 0o7777;
  let dir = volumeDir.replace(/\/+$/, "");
  for (const [i, part] of parts.entries()) {
    dir = `${dir}/${part}`;
    const info = await Deno.lstat(dir).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    });
    if (!info) {
      await Deno.mkdir(dir, { mode }).catch((e) => {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      });
      await Deno.chmod(dir, mode);
      continue;
    }
    if (info.isSymlink) throw new Error(`subPath "${subPath}": ${dir} is a symbolic link`);
    if (!info.isDirectory && i < parts.length - 1) {
      throw new Error(`subPath "${subPath}": ${dir} is not a directory`);
    }
  }
}

/** Remove everything the node keeps for a pod (emptyDirs, projected files). */
export async function removePodDir(dataDir: string, uid: string): Promise<void> {
  await Deno.remove(podDir(dataDir, uid), { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

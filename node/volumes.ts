/**
 * Pod volumes on the node: each volume of a pod gets a host directory the runtime bind-mounts
 * (emptyDir: an empty directory removed with the pod; configMap/secret: the keys written as
 * files; hostPath: the host path itself).
 *
 * @module
 */

import { isPlainObject, type KubeObject } from "../storage/object.ts";

/** ConfigMap and Secret data a pod's volumes need, by name (Secret data base64 as stored). */
export interface VolumeSources {
  configMaps: Readonly<Record<string, Readonly<Record<string, string>>>>;
  secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
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
  for (const v of Array.isArray(spec.volumes) ? spec.volumes : []) {
    if (!isPlainObject(v) || typeof v.name !== "string") continue;
    const dir = `${base}/${v.name}`;
    if (isPlainObject(v.emptyDir)) {
      await Deno.mkdir(dir, { recursive: true, mode: 0o777 });
      await Deno.chmod(dir, 0o777);
      dirs[v.name] = dir;
    } else if (isPlainObject(v.hostPath) && typeof v.hostPath.path === "string") {
      const type = v.hostPath.type;
      if (type === "DirectoryOrCreate") await Deno.mkdir(v.hostPath.path, { recursive: true });
      dirs[v.name] = v.hostPath.path;
    } else if (isPlainObject(v.configMap)) {
      const data = sources.configMaps[String(v.configMap.name)];
      if (!data) continue;
      const mode = typeof v.configMap.defaultMode === "number" ? v.configMap.defaultMode : 0o644;
      await writeKeys(dir, data, v.configMap.items, mode, false);
      dirs[v.name] = dir;
    } else if (isPlainObject(v.secret)) {
      const data = sources.secrets[String(v.secret.secretName)];
      if (!data) continue;
      const mode = typeof v.secret.defaultMode === "number" ? v.secret.defaultMode : 0o644;
      await writeKeys(dir, data, v.secret.items, mode, true);
      dirs[v.name] = dir;
    }
  }
  return dirs;
}

/** Remove everything the node keeps for a pod (emptyDirs, projected files). */
export async function removePodDir(dataDir: string, uid: string): Promise<void> {
  await Deno.remove(podDir(dataDir, uid), { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/**
 * `VolumeView`: the scheduler's cache of storage objects (PersistentVolumeClaims by
 * `namespace/name`, PersistentVolumes and StorageClasses by name), kept beside the node view of
 * the {@linkcode Snapshot} (`snapshot.volumes`) and read by the VolumeBinding pre-filter and
 * filter (`volume_binding.ts`).
 *
 * The scheduler's watches feed it. An object older than the one held (a smaller
 * `metadata.resourceVersion`) is ignored, so a claim the scheduler has just written (and put
 * here from the write's answer) is not replaced by a watch event that predates the write.
 *
 * @module
 */

import type { KubeObject } from "../../storage/object.ts";

/** The kinds a {@linkcode VolumeView} holds. */
export const VOLUME_KINDS = ["PersistentVolumeClaim", "PersistentVolume", "StorageClass"] as const;

function version(obj: KubeObject): number {
  return Number(obj.metadata.resourceVersion ?? 0) || 0;
}

/** Put `obj` under `key` unless the held object is newer; true when it was stored. */
function put(map: Map<string, KubeObject>, key: string, obj: KubeObject): boolean {
  const held = map.get(key);
  if (held && version(held) > version(obj)) return false;
  map.set(key, obj);
  return true;
}

/** `namespace/name` of a claim. */
export function claimKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The scheduler's claims, volumes and classes; see the module doc. */
export class VolumeView {
  readonly #claims = new Map<string, KubeObject>();
  readonly #volumes = new Map<string, KubeObject>();
  readonly #classes = new Map<string, KubeObject>();

  /** The claim `name` in `namespace`. */
  claim(namespace: string, name: string): KubeObject | undefined {
    return this.#claims.get(claimKey(namespace, name));
  }

  /** The PersistentVolume `name`. */
  volume(name: string): KubeObject | undefined {
    return this.#volumes.get(name);
  }

  /** The StorageClass `name`. */
  storageClass(name: string): KubeObject | undefined {
    return this.#classes.get(name);
  }

  /** Every PersistentVolume. */
  volumes(): Iterable<KubeObject> {
    return this.#volumes.values();
  }

  /** The `namespace/name` keys of the claims held. */
  claimKeys(): string[] {
    return [...this.#claims.keys()];
  }

  /** The names of the volumes held. */
  volumeNames(): string[] {
    return [...this.#volumes.keys()];
  }

  /** The names of the classes held. */
  classNames(): string[] {
    return [...this.#classes.keys()];
  }

  /** Add or replace a claim; false when the held one is newer. */
  setClaim(obj: KubeObject): boolean {
    const { namespace = "", name = "" } = obj.metadata;
    return put(this.#claims, claimKey(namespace, name), obj);
  }

  /** Forget the claim `namespace/name`. */
  deleteClaim(key: string): void {
    this.#claims.delete(key);
  }

  /** Add or replace a PersistentVolume; false when the held one is newer. */
  setVolume(obj: KubeObject): boolean {
    return put(this.#volumes, obj.metadata.name ?? "", obj);
  }

  /** Forget a PersistentVolume. */
  deleteVolume(name: string): void {
    this.#volumes.delete(name);
  }

  /** Add or replace a StorageClass; false when the held one is newer. */
  setClass(obj: KubeObject): boolean {
    return put(this.#classes, obj.metadata.name ?? "", obj);
  }

  /** Forget a StorageClass. */
  deleteClass(name: string): void {
    this.#classes.delete(name);
  }

  /** Add or replace an object of one of {@linkcode VOLUME_KINDS}, chosen by its `kind`. */
  set(obj: KubeObject): boolean {
    switch (obj.kind) {
      case "PersistentVolumeClaim":
        return this.setClaim(obj);
      case "PersistentVolume":
        return this.setVolume(obj);
      case "StorageClass":
        return this.setClass(obj);
      default:
        throw new TypeError(
          `Cannot add '${obj.metadata.name}' to the volume view: kind '${obj.kind}' is not one of ${
            VOLUME_KINDS.join(", ")
          }`,
        );
    }
  }
}

/**
 * {@linkcode Informer}: a watch-fed, in-memory copy of the objects under one store prefix, for
 * controllers (client-go's shared informer, in small). It lists once, then follows the store's
 * watch from the list's revision; when the watch ends or fails (a compacted revision gives
 * Expired) it waits `retryMs`, lists again and reports the difference as events, so handlers
 * never miss a deletion that happened while it was not watching.
 *
 * Handlers get every change as an {@linkcode InformerEvent}; they should only put keys on a
 * work queue (level-based, STYLE.md). Objects handed out are the store's own: read them, and
 * clone before editing.
 *
 * @example
 * ```ts
 * const pods = new Informer({ store, prefix: "/core/pods/", name: "pods" });
 * pods.addIndex("owner", (pod) => (pod.metadata.ownerReferences ?? []).map((r) => r.uid));
 * pods.onEvent((ev) => queue.add(ownerKey(ev.object)));
 * await pods.start();
 * pods.byIndex("owner", rs.metadata.uid!); // the pods that name this ReplicaSet as owner
 * await pods.stop();
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "../storage/clock.ts";
import type { KubeObject } from "../storage/object.ts";
import type { Store, StoreWatch } from "../storage/store.ts";

/** Index of objects by the uid of their controller (the ownerReference with `controller`). */
export const CONTROLLER_INDEX = "controller";

/** Index of objects by their own uid. */
export const UID_INDEX = "uid";

/** The uid of `obj`'s controller, if it has one (`metav1.GetControllerOf`). */
export function controllerOf(obj: KubeObject): string | undefined {
  return obj.metadata.ownerReferences?.find((ref) => ref.controller === true)?.uid;
}

/** Index values for {@linkcode CONTROLLER_INDEX}. */
export function byController(obj: KubeObject): string[] {
  const uid = controllerOf(obj);
  return uid ? [uid] : [];
}

/** Index values for {@linkcode UID_INDEX}. */
export function byUid(obj: KubeObject): string[] {
  return obj.metadata.uid ? [obj.metadata.uid] : [];
}

/** The work-queue key of a namespaced object: `namespace/name`. */
export function queueKey(obj: KubeObject): string {
  return `${obj.metadata.namespace}/${obj.metadata.name}`;
}

/** `namespace/name` back into its two parts. */
export function splitQueueKey(key: string): [namespace: string, name: string] {
  const slash = key.indexOf("/");
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** An error's message, for Events and logs. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** One change seen by an {@linkcode Informer}; `old` is the previous state of an update. */
export type InformerEvent =
  | { type: "add"; object: KubeObject }
  | { type: "update"; object: KubeObject; old: KubeObject }
  | { type: "delete"; object: KubeObject };

/** Options of {@linkcode Informer}. */
export interface InformerOptions {
  store: Store;
  /** the store prefix to mirror, e.g. `/apps/replicasets/` */
  prefix: string;
  /** how log lines name it */
  name: string;
  /** pause before listing again after the watch ended or failed (default 1 s) */
  retryMs?: number;
  clock?: Clock;
}

interface Index {
  values: (obj: KubeObject) => string[];
  /** index value → keys of the objects with that value */
  keys: Map<string, Set<string>>;
}

/** The watch-fed cache of one prefix; see the module documentation. */
export class Informer {
  readonly #store: Store;
  readonly #prefix: string;
  readonly #name: string;
  readonly #retryMs: number;
  readonly #clock: Clock;
  readonly #objects = new Map<string, KubeObject>();
  readonly #indexes = new Map<string, Index>();
  readonly #handlers: Array<(ev: InformerEvent) => void> = [];
  readonly #stop = new AbortController();
  #watch: StoreWatch | undefined;
  #done: Promise<void> | undefined;
  #revision = 0;

  constructor(options: InformerOptions) {
    this.#store = options.store;
    this.#prefix = options.prefix;
    this.#name = options.name;
    this.#retryMs = options.retryMs ?? 1000;
    this.#clock = options.clock ?? systemClock;
  }

  /** Calls `handler` for every change from the first list on; add handlers before start(). */
  onEvent(handler: (ev: InformerEvent) => void): void {
    this.#handlers.push(handler);
  }

  /** Keeps objects findable by the values `values(obj)` returns; add indexes before start(). */
  addIndex(name: string, values: (obj: KubeObject) => string[]): void {
    if (this.#indexes.has(name)) throw new Error(`Cannot add index '${name}': it exists`);
    this.#indexes.set(name, { values, keys: new Map() });
  }

  /** The object at store key `key`, if present. */
  get(key: string): KubeObject | undefined {
    return this.#objects.get(key);
  }

  /** Every object, in no particular order. */
  list(): KubeObject[] {
    return [...this.#objects.values()];
  }

  /** The objects for which index `name` gave `value`. */
  byIndex(name: string, value: string): KubeObject[] {
    const index = this.#indexes.get(name);
    if (!index) throw new Error(`Cannot look up index '${name}': no such index`);
    const keys = index.keys.get(value);
    return keys ? [...keys].flatMap((key) => this.#objects.get(key) ?? []) : [];
  }

  /** The store revision the cache reflects. */
  get revision(): number {
    return this.#revision;
  }

  /** Lists (handlers see an `add` per object), then follows the watch in the background. */
  async start(): Promise<void> {
    await this.#relist();
    this.#done = this.#follow();
  }

  /** Stops following; resolves once the watch loop has ended. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#watch?.close();
    await this.#done;
  }

  async #follow(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        const watch = this.#store.watch(this.#prefix, this.#revision);
        this.#watch = watch;
        if (signal.aborted) watch.close();
        for await (const ev of watch) {
          if (ev.type === "DELETED") this.#remove(ev.key);
          else this.#put(ev.key, ev.object);
          this.#revision = ev.revision;
        }
        if (signal.aborted) return;
        console.error(`${this.#name} informer: watch ended; listing again`);
      } catch (e) {
        if (signal.aborted) return;
        console.error(`${this.#name} informer: watch failed; listing again:`, e);
      }
      await this.#clock.sleep(this.#retryMs, signal).catch(() => {});
      if (signal.aborted) return;
      try {
        await this.#relist();
      } catch (e) {
        console.error(`${this.#name} informer: list failed:`, e);
      }
    }
  }

  /** Lists the prefix and turns the difference with the cache into events. */
  async #relist(): Promise<void> {
    const listed = await this.#store.list(this.#prefix);
    const seen = new Set<string>();
    for (const obj of listed.items) {
      const key = keyOf(this.#prefix, obj);
      seen.add(key);
      const old = this.#objects.get(key);
      if (old?.metadata.resourceVersion !== obj.metadata.resourceVersion) this.#put(key, obj);
    }
    for (const key of [...this.#objects.keys()]) {
      if (!seen.has(key)) this.#remove(key);
    }
    this.#revision = listed.revision;
  }

  #put(key: string, obj: KubeObject): void {
    const old = this.#objects.get(key);
    if (old) this.#unindex(key, old);
    this.#objects.set(key, obj);
    for (const index of this.#indexes.values()) {
      for (const value of index.values(obj)) {
        let keys = index.keys.get(value);
        if (!keys) index.keys.set(value, keys = new Set());
        keys.add(key);
      }
    }
    this.#emit(old ? { type: "update", object: obj, old } : { type: "add", object: obj });
  }

  #remove(key: string): void {
    const old = this.#objects.get(key);
    if (!old) return;
    this.#unindex(key, old);
    this.#objects.delete(key);
    this.#emit({ type: "delete", object: old });
  }

  #unindex(key: string, obj: KubeObject): void {
    for (const index of this.#indexes.values()) {
      for (const value of index.values(obj)) {
        const keys = index.keys.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index.keys.delete(value);
      }
    }
  }

  #emit(ev: InformerEvent): void {
    for (const handler of this.#handlers) {
      try {
        handler(ev);
      } catch (e) {
        console.error(`${this.#name} informer: a handler threw:`, e);
      }
    }
  }
}

/** The store key of a listed object under `prefix` (`<prefix>[<namespace>/]<name>`). */
function keyOf(prefix: string, obj: KubeObject): string {
  const { namespace, name } = obj.metadata;
  return namespace ? `${prefix}${namespace}/${name}` : `${prefix}${name}`;
}

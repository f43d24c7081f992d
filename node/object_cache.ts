/**
 * `ObjectCache`: the agent's local copy of one collection (Services, Endpoints, Nodes, claims,
 * volumes, StorageClasses), kept current by a {@linkcode Reflector} and indexed by namespace,
 * with change listeners. The Services and Endpoints caches feed the pods' service environment
 * variables and the service proxy; the Nodes cache feeds the routes to other nodes' pod CIDRs;
 * the storage caches feed the pods' volume mounts and the local-path provisioner.
 *
 * With `persist`, the copy is also kept in the agent's Deno KV, so an agent restarted while the
 * control plane is away starts from what it last saw (and counts as synced), and resumes the
 * watch from there when the control plane returns.
 *
 * @example
 * ```ts
 * const services = await ObjectCache.open({ client, path: "/api/v1/services" });
 * services.subscribe((type, svc) => console.log(type, svc.metadata.name));
 * services.start();
 * if (await services.waitSynced(5_000)) console.log(services.list("default").length);
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "../storage/clock.ts";
import type { KubeObject } from "../storage/object.ts";
import type { ApiClient } from "./api_client.ts";
import { Reflector } from "./reflector.ts";

/** What happened to an object of the cache. */
export type CacheEvent = "ADDED" | "MODIFIED" | "DELETED";

/** Called for every change of the cache, after the cache has changed. */
export type CacheListener = (type: CacheEvent, obj: KubeObject) => void;

/** The read side of an {@linkcode ObjectCache}: what its users need (and tests fake). */
export interface CacheView {
  /** One object by namespace ("" for cluster-scoped kinds) and name. */
  get(namespace: string, name: string): KubeObject | undefined;
  /** The objects of one namespace ("" for cluster-scoped kinds), or of all when undefined. */
  list(namespace?: string): KubeObject[];
  /** Call `listener` on every change from now on; returns the function that stops it. */
  subscribe(listener: CacheListener): () => void;
  /** Whether the copy has been listed from the API (or loaded from the persisted copy). */
  readonly synced: boolean;
  /** Resolves `true` once synced, `false` if `ms` pass first. */
  waitSynced(ms: number, signal?: AbortSignal): Promise<boolean>;
}

/** Options of {@linkcode ObjectCache.open}. */
export interface ObjectCacheOptions {
  client: ApiClient;
  /** collection path, e.g. `/api/v1/services` (all namespaces) */
  path: string;
  /** extra list/watch query, e.g. a field selector */
  query?: Record<string, string>;
  /** keep a copy in `kv` under keys starting with `prefix` */
  persist?: { kv: Deno.Kv; prefix: string };
  clock?: Clock;
  /** first retry delay of the reflector after a failure */
  retryMs?: number;
}

/** A list+watch copy of one collection, by namespace and name. */
export class ObjectCache implements CacheView {
  readonly #options: ObjectCacheOptions;
  readonly #clock: Clock;
  readonly #byNamespace = new Map<string, Map<string, KubeObject>>();
  readonly #listeners = new Set<CacheListener>();
  readonly #synced = Promise.withResolvers<void>();
  #isSynced = false;
  #reflector: Reflector;
  #writes: Promise<void> = Promise.resolve();

  private constructor(options: ObjectCacheOptions, resume?: { rv: string; objects: KubeObject[] }) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    for (const obj of resume?.objects ?? []) this.#put(obj);
    if (resume) {
      this.#isSynced = true;
      this.#synced.resolve();
    }
    this.#reflector = new Reflector({
      client: options.client,
      path: options.path,
      clock: this.#clock,
      ...(options.query ? { query: options.query } : {}),
      ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}),
      ...(resume ? { resumeFrom: { resourceVersion: resume.rv, objects: resume.objects } } : {}),
      onChange: (type, obj) => this.#change(type, obj),
      onSynced: () => this.#markSynced(),
    });
  }

  /** A cache of `options.path`, starting from the persisted copy when there is one. */
  static async open(options: ObjectCacheOptions): Promise<ObjectCache> {
    const persist = options.persist;
    if (!persist) return new ObjectCache(options);
    const rv = (await persist.kv.get<string>([persist.prefix, "rv"])).value;
    if (!rv) return new ObjectCache(options);
    const objects: KubeObject[] = [];
    for await (const entry of persist.kv.list<KubeObject>({ prefix: [persist.prefix, "obj"] })) {
      objects.push(entry.value);
    }
    return new ObjectCache(options, { rv, objects });
  }

  /** Start listing and watching in the background. */
  start(): void {
    this.#reflector.start();
  }

  /** Stop watching; resolves when the watch has ended and the copy is written. */
  async stop(): Promise<void> {
    await this.#reflector.stop();
    await this.#writes;
  }

  /** Whether the copy has been listed from the API (or loaded from the persisted copy). */
  get synced(): boolean {
    return this.#isSynced;
  }

  /** Whether the watch reached the API on its last attempt. */
  get connected(): boolean {
    return this.#reflector.connected;
  }

  /** Resolves `true` once {@linkcode synced}, `false` if `ms` pass first. */
  async waitSynced(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#isSynced) return true;
    const stop = new AbortController();
    const abort = () => stop.abort();
    signal?.addEventListener("abort", abort, { once: true });
    try {
      await Promise.race([this.#synced.promise, this.#clock.sleep(ms, stop.signal)]);
    } finally {
      stop.abort();
      signal?.removeEventListener("abort", abort);
    }
    return this.#isSynced;
  }

  /** The objects of one namespace ("" for cluster-scoped kinds), or of all when undefined. */
  list(namespace?: string): KubeObject[] {
    if (namespace !== undefined) return [...(this.#byNamespace.get(namespace)?.values() ?? [])];
    return [...this.#byNamespace.values()].flatMap((m) => [...m.values()]);
  }

  /** One object by namespace ("" for cluster-scoped kinds) and name. */
  get(namespace: string, name: string): KubeObject | undefined {
    return this.#byNamespace.get(namespace)?.get(name);
  }

  /** Call `listener` on every change from now on; returns the function that stops it. */
  subscribe(listener: CacheListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #markSynced(): void {
    this.#isSynced = true;
    this.#synced.resolve();
    const rv = this.#reflector.resourceVersion;
    this.#persist((kv, prefix) => kv.set([prefix, "rv"], rv));
  }

  #put(obj: KubeObject): void {
    const ns = obj.metadata.namespace ?? "";
    let names = this.#byNamespace.get(ns);
    if (!names) this.#byNamespace.set(ns, names = new Map());
    names.set(obj.metadata.name ?? "", obj);
  }

  #change(type: CacheEvent, obj: KubeObject): void {
    const ns = obj.metadata.namespace ?? "";
    const name = obj.metadata.name ?? "";
    if (type === "DELETED") {
      const names = this.#byNamespace.get(ns);
      names?.delete(name);
      if (names?.size === 0) this.#byNamespace.delete(ns);
      this.#persist((kv, prefix) => kv.delete([prefix, "obj", ns, name]));
    } else {
      this.#put(obj);
      this.#persist((kv, prefix) => kv.set([prefix, "obj", ns, name], obj));
    }
    const rv = this.#reflector.resourceVersion;
    if (this.#isSynced && rv) this.#persist((kv, prefix) => kv.set([prefix, "rv"], rv));
    for (const listener of this.#listeners) {
      try {
        listener(type, obj);
      } catch (e) {
        console.error(`agent: a listener of ${this.#options.path} failed:`, e);
      }
    }
  }

  /** Writes to the persisted copy one after another, in the order of the changes. */
  #persist(write: (kv: Deno.Kv, prefix: string) => Promise<unknown>): void {
    const persist = this.#options.persist;
    if (!persist) return;
    this.#writes = this.#writes.then(() => write(persist.kv, persist.prefix)).then(
      () => {},
      () => {},
    );
  }
}

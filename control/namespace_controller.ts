/**
 * The namespace controller: a namespace being deleted has every object in it deleted, then its
 * `kubernetes` finalizer removed, which lets the namespace go.
 *
 * Level-based: a watch only enqueues namespace names; `reconcile(name)` looks at the store and
 * converges, and is retried after a delay while objects remain (e.g. held by finalizers).
 *
 * @module
 */

import type { KubeObject } from "../storage/object.ts";
import { type ResourceType, storePrefix } from "../storage/resource.ts";
import { ApiError } from "../storage/status.ts";
import type { Store } from "../storage/store.ts";
import { namespaceSpecFinalizers, Objects } from "./api/objects.ts";
import { WorkQueue } from "./work_queue.ts";

/** Options of {@linkcode NamespaceController}. */
export interface NamespaceControllerOptions {
  store: Store;
  types: readonly ResourceType[];
  /** delay before re-checking a namespace whose objects are not all gone (default 1 s) */
  retryMs?: number;
}

/** Deletes the contents of terminating namespaces, then finalizes them. */
export class NamespaceController {
  readonly #store: Store;
  readonly #objects: Objects;
  readonly #types: readonly ResourceType[];
  readonly #namespaceType: ResourceType;
  readonly #queue: WorkQueue;
  #stopped = false;
  #watch: ReturnType<Store["watch"]> | undefined;
  #done: Promise<void> | undefined;

  constructor(options: NamespaceControllerOptions) {
    this.#store = options.store;
    this.#objects = new Objects(options.store);
    this.#types = options.types.filter((rt) => rt.namespaced);
    const nsType = options.types.find((rt) => rt.group === "" && rt.kind === "Namespace");
    if (!nsType) throw new Error("NamespaceController needs the Namespace resource type");
    this.#namespaceType = nsType;
    this.#queue = new WorkQueue({
      reconcile: (name) => this.reconcile(name),
      onError: (name, e) => console.error(`namespace controller: reconcile ${name}:`, e),
      retryMs: options.retryMs ?? 1000,
    });
  }

  /** Start: enqueue every namespace, then follow changes. */
  async start(): Promise<void> {
    const listed = await this.#store.list("/core/namespaces/");
    for (const ns of listed.items) this.#queue.add(ns.metadata.name!);
    this.#watch = this.#store.watch("/core/namespaces/", listed.revision);
    const watch = this.#watch;
    const watching = (async () => {
      try {
        for await (const ev of watch) {
          if (ev.type !== "DELETED") this.#queue.add(ev.object.metadata.name!);
        }
      } catch (e) {
        if (!this.#stopped) console.error("namespace controller: watch ended:", e);
      }
    })();
    this.#queue.start();
    this.#done = watching;
  }

  /** Stop the watch, the worker and pending retries. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watch?.close();
    await Promise.all([this.#queue.stop(), this.#done]);
  }

  /** Converge one namespace; returns true when it must be looked at again later. */
  async reconcile(name: string): Promise<boolean> {
    const ns = await this.#store.get(`/core/namespaces/${name}`);
    if (!ns || !ns.metadata.deletionTimestamp) return false;
    let remaining = 0;
    for (const rt of this.#types) {
      const { items } = await this.#store.list(storePrefix(rt, name));
      for (const obj of items) {
        remaining++;
        if (obj.metadata.deletionTimestamp) continue;
        await this.#deleteQuietly(rt, obj);
      }
    }
    if (remaining > 0) return true;
    const finalizers = namespaceSpecFinalizers(ns).filter((f) => f !== "kubernetes");
    const next: KubeObject = { ...ns, spec: { ...(ns.spec as object), finalizers } };
    try {
      await this.#objects.update(this.#namespaceType, undefined, name, next, {
        fieldValidation: "Ignore",
        dryRun: false,
      });
    } catch (e) {
      if (e instanceof ApiError && (e.reason === "NotFound" || e.reason === "Conflict")) {
        return e.reason === "Conflict";
      }
      throw e;
    }
    return false;
  }

  async #deleteQuietly(rt: ResourceType, obj: KubeObject): Promise<void> {
    try {
      await this.#objects.delete(rt, obj.metadata.namespace, obj.metadata.name!, {
        propagationPolicy: "Background",
        dryRun: false,
      });
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === "NotFound")) throw e;
    }
  }
}

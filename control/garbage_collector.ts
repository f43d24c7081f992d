/**
 * The garbage collector: objects whose owners are gone are deleted, and the `orphan` and
 * `foregroundDeletion` finalizers that `Objects.delete()` adds for the Orphan and Foreground
 * propagation policies are carried out, as Kubernetes' garbage collector does.
 *
 * It keeps a graph of every object (uid → what the collector needs to know, and owner uid →
 * dependent uids) fed by a list and a watch of the whole store. Level-based: events only enqueue
 * uids; `reconcile(uid)` reads the graph and the store and converges. Every write goes through
 * {@linkcode Objects}, so the API's rules (finalizers, preconditions, validation) apply.
 *
 * For each object, `reconcile` does what its state calls for:
 * - being deleted with the `orphan` finalizer: remove the ownerReferences pointing at it from
 *   every dependent, then remove the finalizer;
 * - being deleted with `foregroundDeletion`: enqueue its dependents (which then delete
 *   themselves, see below) and remove the finalizer once no dependent with
 *   `blockOwnerDeletion: true` remains;
 * - not being deleted, with ownerReferences: classify each owner as solid (exists),
 *   dangling (no object with that uid at the reference's coordinates) or waiting (being deleted
 *   in the foreground). With a solid owner the object stays and the dangling and waiting
 *   references are removed from it; otherwise it is deleted (Foreground when an owner waits
 *   for it and it has dependents of its own, so the deletion recurses; else per its own
 *   finalizers, Background by default).
 *
 * @example
 * ```ts
 * const gc = new GarbageCollector({ store, types: RESOURCE_TYPES });
 * await gc.start();
 * // … deleting a Deployment now deletes the ReplicaSets it owns, and their pods …
 * await gc.stop();
 * ```
 *
 * @module
 */

import { cloneJson, type KubeObject, type OwnerReference } from "../storage/object.ts";
import { apiVersionOf, type ResourceType, storeKey } from "../storage/resource.ts";
import { ApiError } from "../storage/status.ts";
import type { Store, StoreEvent, StoreWatch } from "../storage/store.ts";
import { type DeleteOptions, Objects } from "./api/objects.ts";
import { WorkQueue } from "./work_queue.ts";

const ORPHAN = "orphan";
const FOREGROUND = "foregroundDeletion";
const MAX_CONFLICT_RETRIES = 5;
const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;

/** Options of {@linkcode GarbageCollector}. */
export interface GarbageCollectorOptions {
  store: Store;
  /** the kinds served: how objects and ownerReferences resolve to resource types */
  types: readonly ResourceType[];
  /** delay before retrying a failed reconcile or re-establishing a failed watch (default 1 s) */
  retryMs?: number;
}

/** What the collector keeps of one object: one node of the ownership graph. */
interface GraphNode {
  uid: string;
  key: string;
  rt: ResourceType;
  namespace: string | undefined;
  name: string;
  ownerReferences: OwnerReference[];
  deletionTimestamp: string | undefined;
  finalizers: string[];
}

/** How an ownerReference of a dependent stands (see `#ownerState`). */
type OwnerState = "solid" | "dangling" | "waiting" | "unresolvable" | "invalid";

/** Deletes dependents whose owners are gone and carries out Orphan and Foreground deletion. */
export class GarbageCollector {
  readonly #store: Store;
  readonly #objects: Objects;
  readonly #kinds = new Map<string, ResourceType>();
  readonly #retryMs: number;
  readonly #nodes = new Map<string, GraphNode>();
  /** owner uid → uids of the objects whose ownerReferences name it */
  readonly #dependents = new Map<string, Set<string>>();
  readonly #queue: WorkQueue;
  readonly #abort = new AbortController();
  #stopped = false;
  #watch: StoreWatch | undefined;
  #done: Promise<void> | undefined;

  constructor(options: GarbageCollectorOptions) {
    this.#store = options.store;
    this.#objects = new Objects(options.store);
    for (const rt of options.types) this.#kinds.set(kindKey(apiVersionOf(rt), rt.kind), rt);
    this.#retryMs = options.retryMs ?? 1000;
    this.#queue = new WorkQueue({
      reconcile: (uid) => this.reconcile(uid),
      onError: (uid, e) => {
        const key = this.#nodes.get(uid)?.key ?? uid;
        console.error(`garbage collector: reconcile ${key}:`, e);
      },
      retryMs: this.#retryMs,
    });
  }

  /** Start: build the graph from a list of everything, enqueue what may need work, then watch. */
  async start(): Promise<void> {
    const revision = await this.#relist();
    this.#queue.start();
    this.#done = this.#follow(revision);
  }

  /** Stop the watch, the worker and pending retries; resolves once all of them have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#watch?.close();
    await Promise.all([this.#queue.stop(), this.#done]);
  }

  /**
   * Converge one object (by uid); returns true when it must be looked at again later.
   * An object the graph does not know, or that is no longer in the store, needs nothing: the
   * watch event of its deletion enqueues what depended on it.
   */
  async reconcile(uid: string): Promise<boolean> {
    const node = this.#nodes.get(uid);
    if (!node) return false;
    const obj = await this.#store.get(node.key);
    if (!obj || obj.metadata.uid !== uid) return false;
    try {
      if (obj.metadata.deletionTimestamp) {
        const finalizers = obj.metadata.finalizers ?? [];
        if (finalizers.includes(ORPHAN)) await this.#orphanDependents(node);
        else if (finalizers.includes(FOREGROUND)) await this.#deleteDependents(node, obj);
        return false;
      }
      await this.#collect(node, obj);
      return false;
    } catch (e) {
      if (e instanceof ApiError && e.reason === "Conflict") return true;
      throw e;
    }
  }

  // ---- the graph ----

  /** Rebuild the graph from a fresh list and enqueue everything that may need work. */
  async #relist(): Promise<number> {
    const listed = await this.#store.list("/");
    this.#nodes.clear();
    this.#dependents.clear();
    for (const obj of listed.items) {
      const node = this.#insert(obj);
      if (node && needsAttention(node)) this.#queue.add(node.uid);
    }
    return listed.revision;
  }

  /** Apply one watch event to the graph and enqueue the uids it may affect. */
  #observe(ev: StoreEvent): void {
    const uid = ev.object.metadata.uid;
    if (!uid) return;
    const old = this.#nodes.get(uid);
    if (ev.type === "DELETED") {
      if (!old) return;
      this.#unlink(old);
      this.#nodes.delete(uid);
      for (const dep of this.#dependents.get(uid) ?? []) this.#queue.add(dep);
      this.#enqueueWaitingOwners(old.ownerReferences);
      return;
    }
    const node = this.#insert(ev.object);
    if (!node) return;
    if (!old) { for (const dep of this.#dependents.get(uid) ?? []) this.#queue.add(dep); }
    if (needsAttention(node)) this.#queue.add(uid);
    this.#enqueueWaitingOwners([...(old?.ownerReferences ?? []), ...node.ownerReferences]);
  }

  /**
   * Put `obj` into the graph, replacing what was known of its uid. Objects of kinds not in
   * `types` stay out: nothing can name them as owner (such a reference is unresolvable) and the
   * collector could not write them.
   */
  #insert(obj: KubeObject): GraphNode | undefined {
    const meta = obj.metadata;
    const rt = this.#kinds.get(kindKey(obj.apiVersion, obj.kind));
    if (!rt || !meta.uid || !meta.name) return undefined;
    const old = this.#nodes.get(meta.uid);
    if (old) this.#unlink(old);
    const namespace = rt.namespaced ? meta.namespace : undefined;
    const node: GraphNode = {
      uid: meta.uid,
      key: storeKey(rt, namespace, meta.name),
      rt,
      namespace,
      name: meta.name,
      ownerReferences: cloneJson(meta.ownerReferences ?? []),
      deletionTimestamp: meta.deletionTimestamp,
      finalizers: [...(meta.finalizers ?? [])],
    };
    this.#nodes.set(node.uid, node);
    for (const ref of node.ownerReferences) {
      let deps = this.#dependents.get(ref.uid);
      if (!deps) this.#dependents.set(ref.uid, deps = new Set());
      deps.add(node.uid);
    }
    return node;
  }

  #unlink(node: GraphNode): void {
    for (const ref of node.ownerReferences) {
      const deps = this.#dependents.get(ref.uid);
      deps?.delete(node.uid);
      if (deps?.size === 0) this.#dependents.delete(ref.uid);
    }
  }

  /** Owners waiting for their dependents must look again when a dependent changes or goes. */
  #enqueueWaitingOwners(refs: OwnerReference[]): void {
    for (const ref of refs) {
      const owner = this.#nodes.get(ref.uid);
      if (owner && isDeletingDependents(owner)) this.#queue.add(owner.uid);
    }
  }

  /**
   * The dependents of `owner` in the graph. A namespaced dependent can only have an owner in its
   * own namespace or a cluster-scoped one, and a cluster-scoped dependent only a cluster-scoped
   * owner; a reference across that line is dangling and left to the dependent's own reconcile.
   */
  #dependentsOf(owner: GraphNode): GraphNode[] {
    const found: GraphNode[] = [];
    for (const uid of this.#dependents.get(owner.uid) ?? []) {
      const dep = this.#nodes.get(uid);
      if (dep && (owner.namespace === undefined || owner.namespace === dep.namespace)) {
        found.push(dep);
      }
    }
    return found;
  }

  // ---- the loops ----

  /** Follow the watch; when it ends or fails, wait, relist and watch again. */
  async #follow(revision: number): Promise<void> {
    let from = revision;
    while (!this.#stopped) {
      try {
        const watch = this.#store.watch("/", from);
        this.#watch = watch;
        if (this.#stopped) watch.close();
        for await (const ev of watch) {
          this.#observe(ev);
          from = ev.revision;
        }
        if (this.#stopped) return;
        console.error("garbage collector: watch ended; relisting");
      } catch (e) {
        if (this.#stopped) return;
        console.error("garbage collector: watch failed; relisting:", e);
      }
      await this.#pause(this.#retryMs);
      if (this.#stopped) return;
      try {
        from = await this.#relist();
      } catch (e) {
        console.error("garbage collector: relist failed:", e);
      }
    }
  }

  /** Resolves after `ms`, or at once when the collector stops. */
  #pause(ms: number): Promise<void> {
    const signal = this.#abort.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  // ---- what reconcile does ----

  /** Orphan: strip the owner from every dependent's ownerReferences, then drop `orphan`. */
  async #orphanDependents(owner: GraphNode): Promise<void> {
    for (const dep of this.#dependentsOf(owner)) {
      await this.#edit(dep, (obj) => {
        const refs = obj.metadata.ownerReferences ?? [];
        const kept = refs.filter((ref) => ref.uid !== owner.uid);
        if (kept.length === refs.length) return false;
        setOwnerReferences(obj, kept);
        return true;
      });
    }
    await this.#removeFinalizer(owner, ORPHAN);
  }

  /**
   * Foreground: have the dependents delete themselves (their reconcile sees this owner waiting),
   * and drop `foregroundDeletion` once no dependent blocks the owner's deletion. The cycle
   * breaker runs here too (Kubernetes runs it only before deleting a dependent), so that a cycle
   * that formed while the graph lagged is broken once the graph catches up.
   */
  async #deleteDependents(owner: GraphNode, obj: KubeObject): Promise<void> {
    const ownersWaiting = (obj.metadata.ownerReferences ?? []).some((ref) => {
      const waiting = this.#nodes.get(ref.uid);
      return ref.blockOwnerDeletion === true && waiting !== undefined &&
        isDeletingDependents(waiting);
    });
    if (!(await this.#breakCycle(owner, obj, ownersWaiting))) return;
    let blocking = 0;
    for (const dep of this.#dependentsOf(owner)) {
      if (dep.ownerReferences.some((r) => r.uid === owner.uid && r.blockOwnerDeletion === true)) {
        blocking++;
      }
      if (!dep.deletionTimestamp) this.#queue.add(dep.uid);
    }
    if (blocking === 0) await this.#removeFinalizer(owner, FOREGROUND);
  }

  /** A dependent not being deleted: keep it, strip dead references from it, or delete it. */
  async #collect(node: GraphNode, obj: KubeObject): Promise<void> {
    const refs = obj.metadata.ownerReferences ?? [];
    if (refs.length === 0) return;
    const solid: OwnerReference[] = [];
    const dead = new Set<string>();
    let waiting = false;
    for (const ref of refs) {
      const state = await this.#ownerState(ref, obj);
      switch (state) {
        case "unresolvable":
          console.error(
            `garbage collector: ${node.key}: ownerReference ${ref.apiVersion} ${ref.kind} ` +
              `'${ref.name}' names a kind this server does not serve; leaving the object alone`,
          );
          return;
        case "invalid":
          console.error(
            `garbage collector: ${node.key}: a cluster-scoped object cannot have the namespaced ` +
              `owner ${ref.kind} '${ref.name}'; leaving the object alone`,
          );
          return;
        case "solid":
          solid.push(ref);
          break;
        case "waiting":
          waiting = true;
          dead.add(ref.uid);
          break;
        case "dangling":
          dead.add(ref.uid);
          break;
      }
    }
    if (solid.length > 0) {
      if (dead.size === 0) return;
      await this.#edit(node, (fresh) => {
        const current = fresh.metadata.ownerReferences ?? [];
        const kept = current.filter((ref) => !dead.has(ref.uid));
        if (kept.length === current.length) return false;
        setOwnerReferences(fresh, kept);
        return true;
      });
      return;
    }
    if (waiting && this.#dependentsOf(node).length > 0) {
      const latest = await this.#breakCycle(node, obj, true);
      if (latest) await this.#delete(node, latest, "Foreground");
      return;
    }
    const finalizers = obj.metadata.finalizers ?? [];
    const policy = finalizers.includes(ORPHAN)
      ? "Orphan"
      : finalizers.includes(FOREGROUND)
      ? "Foreground"
      : "Background";
    await this.#delete(node, obj, policy);
  }

  /**
   * Kubernetes' cycle breaker: when an owner waits for `obj` (`ownersWaiting`) and a dependent
   * of `obj` waits for its own dependents, they may be waiting for each other, so `obj` stops
   * blocking its owners (`blockOwnerDeletion: false` on its references). Returns the object to
   * go on with, or undefined when it is gone or changed meanwhile (its watch event requeues it).
   */
  async #breakCycle(
    node: GraphNode,
    obj: KubeObject,
    ownersWaiting: boolean,
  ): Promise<KubeObject | undefined> {
    const blocks = (obj.metadata.ownerReferences ?? []).some((r) => r.blockOwnerDeletion === true);
    if (!ownersWaiting || !blocks || !this.#dependentsOf(node).some(isDeletingDependents)) {
      return obj;
    }
    return await this.#edit(node, (fresh) => {
      let changed = false;
      for (const ref of fresh.metadata.ownerReferences ?? []) {
        if (ref.blockOwnerDeletion === true) {
          ref.blockOwnerDeletion = false;
          changed = true;
        }
      }
      return changed;
    });
  }

  /**
   * How the owner named by `ref` stands for `dependent`. The owner is looked up where the
   * reference points (the dependent's namespace for a namespaced kind) and must have the
   * reference's uid; anything else is a dangling reference.
   */
  async #ownerState(ref: OwnerReference, dependent: KubeObject): Promise<OwnerState> {
    const rt = this.#kinds.get(kindKey(ref.apiVersion, ref.kind));
    if (!rt) return "unresolvable";
    const namespace = dependent.metadata.namespace || undefined;
    if (rt.namespaced && namespace === undefined) return "invalid";
    const owner = await this.#store.get(storeKey(rt, namespace, ref.name));
    if (!owner || owner.metadata.uid !== ref.uid) return "dangling";
    const deleting = owner.metadata.deletionTimestamp !== undefined &&
      (owner.metadata.finalizers ?? []).includes(FOREGROUND);
    return deleting ? "waiting" : "solid";
  }

  async #removeFinalizer(node: GraphNode, finalizer: string): Promise<void> {
    await this.#edit(node, (obj) => {
      const finalizers = obj.metadata.finalizers ?? [];
      if (!finalizers.includes(finalizer)) return false;
      obj.metadata.finalizers = finalizers.filter((f) => f !== finalizer);
      return true;
    });
  }

  /**
   * Read the object fresh, let `change` edit it (returning whether it did) and write it back
   * with its resourceVersion as precondition, re-reading on Conflict. Returns the written
   * object (the last state when the write finalized it), or undefined when the object is gone
   * or `change` left it as it was.
   */
  async #edit(
    node: GraphNode,
    change: (obj: KubeObject) => boolean,
  ): Promise<KubeObject | undefined> {
    for (let attempt = 0;; attempt++) {
      const obj = await this.#store.get(node.key);
      if (!obj || obj.metadata.uid !== node.uid) return undefined;
      if (!change(obj)) return undefined;
      try {
        return (await this.#objects.update(node.rt, node.namespace, node.name, obj, WRITE)).object;
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        if (e.reason === "NotFound") return undefined;
        if (e.reason !== "Conflict" || attempt >= MAX_CONFLICT_RETRIES) throw e;
      }
    }
  }

  /**
   * Delete `obj` unless it changed since it was judged (uid and resourceVersion preconditions:
   * a Conflict requeues it to be judged again).
   */
  async #delete(
    node: GraphNode,
    obj: KubeObject,
    propagationPolicy: NonNullable<DeleteOptions["propagationPolicy"]>,
  ): Promise<void> {
    const preconditions = { uid: node.uid, resourceVersion: obj.metadata.resourceVersion ?? "" };
    try {
      await this.#objects.delete(node.rt, node.namespace, node.name, {
        propagationPolicy,
        preconditions,
        dryRun: false,
      });
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === "NotFound")) throw e;
    }
  }
}

function kindKey(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}

function needsAttention(node: GraphNode): boolean {
  return node.ownerReferences.length > 0 || node.finalizers.includes(ORPHAN) ||
    node.finalizers.includes(FOREGROUND);
}

function isDeletingDependents(node: GraphNode): boolean {
  return node.deletionTimestamp !== undefined && node.finalizers.includes(FOREGROUND);
}

function setOwnerReferences(obj: KubeObject, refs: OwnerReference[]): void {
  if (refs.length > 0) obj.metadata.ownerReferences = refs;
  else delete obj.metadata.ownerReferences;
}

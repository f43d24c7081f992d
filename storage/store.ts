/**
 * The `Store` interface: the only way to cluster state.
 *
 * Keys are slash-separated paths with no trailing slash, e.g.
 * `/core/configmaps/default/app-config` (namespaced) or `/core/namespaces/default`
 * (cluster-scoped). A prefix always ends with `/` and matches whole segments:
 * `/core/configmaps/` lists every ConfigMap, `/core/configmaps/default/` those in `default`.
 * Segments never contain `/` (names and namespaces are validated before they reach the store).
 *
 * The revision is cluster-wide and strictly increasing (like etcd's): every create, update
 * and delete bumps it by one and appends one event to the change log in the same atomic
 * commit. An object's `metadata.resourceVersion` is the revision of its last write, as a
 * decimal string.
 *
 * @module
 */

import type { KubeObject } from "./object.ts";

/** Why a store operation failed. The API layer maps these to Kubernetes `Status` objects. */
export type StoreErrorCode =
  /** get/update/delete of a key that does not exist */
  | "NotFound"
  /** create of a key that exists */
  | "AlreadyExists"
  /** update/delete whose expected resourceVersion is not the current one */
  | "Conflict"
  /** watch from a revision older than the kept history (HTTP 410 Gone, reason Expired) */
  | "Expired"
  /** the encoded object exceeds what one atomic commit can hold */
  | "TooLarge";

/** A failed store operation. `key` is the key it was about. */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    readonly key: string,
    message?: string,
  ) {
    super(message ?? `${code}: ${key}`);
    this.name = "StoreError";
  }
}

/** One change, as delivered to watchers. */
export interface StoreEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  /** the key that changed */
  key: string;
  /** the revision of this change */
  revision: number;
  /**
   * the object after the change; for DELETED, the last state with
   * `metadata.resourceVersion` set to the deletion's revision (as Kubernetes does)
   */
  object: KubeObject;
}

/** Result of {@linkcode Store.list}. */
export interface ListResult {
  items: KubeObject[];
  /** the revision the list is consistent at */
  revision: number;
  /** the key to pass as `startAfter` for the next page, when `limit` cut the list */
  next?: string;
  /** how many matching items remain after this page, when `limit` cut the list */
  remaining?: number;
}

/** Options for {@linkcode Store.list}. */
export interface ListOptions {
  /** at most this many items */
  limit?: number;
  /** only keys sorting strictly after this key (continuation of an earlier page) */
  startAfter?: string;
  /** keep only items for which this returns true (applied before `limit`) */
  filter?: (obj: KubeObject) => boolean;
}

/** A running watch. Iterate it; call `close()` to stop (iteration then ends). */
export interface StoreWatch extends AsyncIterable<StoreEvent> {
  close(): void;
}

/**
 * Cluster state with compare-and-swap writes and a watchable change log.
 *
 * Returned objects are always copies: mutating them never changes the store.
 */
export interface Store {
  /** The current revision (the revision of the last committed write; 0 when empty). */
  revision(): number;

  /** The object at `key`, or `null`. */
  get(key: string): Promise<KubeObject | null>;

  /** Objects whose key starts with `prefix`, sorted by key, consistent at one revision. */
  list(prefix: string, options?: ListOptions): Promise<ListResult>;

  /**
   * Store a new object at `key`. Sets `metadata.resourceVersion`; everything else is kept as
   * given (uid, timestamps and defaults are the API layer's job).
   * @throws {StoreError} AlreadyExists, TooLarge
   */
  create(key: string, obj: KubeObject): Promise<KubeObject>;

  /**
   * Replace the object at `key`. When `expectedRevision` is given the write only happens if
   * the stored object's resourceVersion equals it (compare-and-swap).
   * @throws {StoreError} NotFound, Conflict, TooLarge
   */
  update(key: string, obj: KubeObject, expectedRevision?: number): Promise<KubeObject>;

  /**
   * Remove the object at `key`; returns its last state with the deletion's revision as
   * resourceVersion.
   * @throws {StoreError} NotFound, Conflict
   */
  delete(key: string, expectedRevision?: number): Promise<KubeObject>;

  /**
   * Changes to keys under `prefix` with revision > `fromRevision`, in revision order, first
   * the kept history then live changes. `fromRevision` may be ahead of the current revision
   * (the watch then waits).
   * @throws {StoreError} Expired when history after `fromRevision` has been compacted
   */
  watch(prefix: string, fromRevision: number): StoreWatch;

  /** The oldest revision a watch can still start from. */
  oldestWatchableRevision(): number;

  /** Stop watches and release the backing store. */
  close(): Promise<void>;
}

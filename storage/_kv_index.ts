/**
 * The in-memory index of live objects behind {@linkcode KvStore}: keys bucketed by their first
 * two segments (`/group/plural/`), each bucket keeping its keys sorted, so a prefix list touches
 * one bucket and starts with a binary search.
 *
 * @module
 */

import type { KubeObject } from "./object.ts";

/** A live object as the index holds it. */
export interface IndexEntry {
  /** the object, deep-frozen (callers get copies) */
  obj: KubeObject;
  /** the revision its data was written at (= its resourceVersion) */
  rev: number;
  /** how many data chunks hold it */
  n: number;
}

interface Bucket {
  entries: Map<string, IndexEntry>;
  /** the keys of `entries`, sorted */
  keys: string[];
}

/** Live objects by key, listable by prefix in key order. */
export class ObjectIndex {
  readonly #buckets = new Map<string, Bucket>();

  /** An index holding `entries` (in any order). */
  static from(entries: Iterable<[string, IndexEntry]>): ObjectIndex {
    const index = new ObjectIndex();
    for (const [key, entry] of entries) {
      const bucket = index.#bucket(bucketOf(key));
      if (!bucket.entries.has(key)) bucket.keys.push(key);
      bucket.entries.set(key, entry);
    }
    for (const bucket of index.#buckets.values()) bucket.keys.sort(compare);
    return index;
  }

  /** The entry of `key`, if live. */
  get(key: string): IndexEntry | undefined {
    return this.#buckets.get(bucketOf(key))?.entries.get(key);
  }

  /** Adds or replaces the entry of `key`. */
  set(key: string, entry: IndexEntry): void {
    const bucket = this.#bucket(bucketOf(key));
    if (!bucket.entries.has(key)) bucket.keys.splice(lowerBound(bucket.keys, key), 0, key);
    bucket.entries.set(key, entry);
  }

  /** Removes the entry of `key`, if any. */
  delete(key: string): void {
    const id = bucketOf(key);
    const bucket = this.#buckets.get(id);
    if (!bucket?.entries.delete(key)) return;
    bucket.keys.splice(lowerBound(bucket.keys, key), 1);
    if (bucket.keys.length === 0) this.#buckets.delete(id);
  }

  /**
   * The entries whose key starts with `prefix` (which ends with `/`), in key order, from the
   * first key after `startAfter` when given. The index must not change during the iteration.
   */
  *range(prefix: string, startAfter?: string): Generator<[string, IndexEntry]> {
    const { keys, entries, start, end } = this.#span(prefix, startAfter);
    for (let i = start; i < end; i++) {
      const key = keys[i] as string;
      yield [key, (entries?.get(key) ?? this.get(key)) as IndexEntry];
    }
  }

  /** How many keys {@linkcode range} would yield, without visiting them. */
  count(prefix: string, startAfter?: string): number {
    const { start, end } = this.#span(prefix, startAfter);
    return end - start;
  }

  /** The sorted keys that can match `prefix` and the index span of those after `startAfter`. */
  #span(prefix: string, startAfter?: string): {
    keys: readonly string[];
    entries: Map<string, IndexEntry> | undefined;
    start: number;
    end: number;
  } {
    const bucketId = bucketOfPrefix(prefix);
    let keys: readonly string[];
    let entries: Map<string, IndexEntry> | undefined;
    if (bucketId !== undefined) {
      const bucket = this.#buckets.get(bucketId);
      keys = bucket?.keys ?? [];
      entries = bucket?.entries;
    } else {
      keys = [...this.#buckets]
        .filter(([id]) => id.startsWith(prefix))
        .flatMap(([, bucket]) => bucket.keys)
        .sort(compare);
    }
    const start = startAfter !== undefined && startAfter >= prefix
      ? upperBound(keys, startAfter)
      : lowerBound(keys, prefix);
    // The keys starting with "…/" are exactly those from "…/" up to (excluding) "…0".
    const end = lowerBound(keys, prefix.slice(0, -1) + "0");
    return { keys, entries, start: Math.min(start, end), end };
  }

  #bucket(id: string): Bucket {
    let bucket = this.#buckets.get(id);
    if (!bucket) {
      bucket = { entries: new Map(), keys: [] };
      this.#buckets.set(id, bucket);
    }
    return bucket;
  }
}

/** `/core/configmaps/default/x` → `/core/configmaps/`; a key of fewer segments → its parent. */
function bucketOf(key: string): string {
  const second = key.indexOf("/", 1);
  const third = second < 0 ? -1 : key.indexOf("/", second + 1);
  return key.slice(0, (third < 0 ? key.lastIndexOf("/") : third) + 1);
}

/** The one bucket that can hold keys under `prefix`, or undefined when several can. */
function bucketOfPrefix(prefix: string): string | undefined {
  const second = prefix.indexOf("/", 1);
  const third = second < 0 ? -1 : prefix.indexOf("/", second + 1);
  return third < 0 ? undefined : prefix.slice(0, third + 1);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The first index whose key is >= `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose key is > `key`. */
function upperBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

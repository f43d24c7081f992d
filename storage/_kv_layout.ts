/**
 * The Deno KV layout of {@linkcode KvStore} and the size arithmetic that keeps every atomic
 * commit inside Deno KV's limits.
 *
 * ```
 * ["rev"]                   → number: the current revision
 * ["k", ...keySegments]     → Pointer: the current version of a live key
 * ["d", rev, i]             → Uint8Array: chunk i of the JSON object written at revision rev
 * ["log", rev]              → LogEntry: the change made at revision rev
 * ```
 *
 * @module
 */

import { isPlainObject, type KubeObject } from "./object.ts";

/** Where the current revision lives. */
export const REV_KEY: Deno.KvKey = ["rev"];
/** Prefix of the pointers of live keys. */
export const POINTER_PREFIX = "k";
/** Prefix of the object data chunks. */
export const DATA_PREFIX = "d";
/** Prefix of the change log. */
export const LOG_PREFIX = "log";

/** The bytes one data chunk holds at most (a KV value holds at most 64 KiB). */
export const CHUNK_BYTES = 60_000;

/** Deno KV's limit on mutations in one atomic operation. */
export const KV_MAX_MUTATIONS = 1000;
/**
 * Deno KV's limit on the summed size of one atomic operation (keys and values), less a margin
 * that absorbs the approximations of {@linkcode mutationSize}.
 */
export const KV_MAX_TOTAL_BYTES = 800 * 1024 - 4096;
/** Deno KV's limit on the summed size of the keys written by one atomic operation, less a margin. */
export const KV_MAX_KEY_BYTES = 80 * 1024 - 1024;

/** The current version of a live key: the revision its data was written at, and its chunk count. */
export interface Pointer {
  rev: number;
  n: number;
}

/** One change-log entry; its object is the data written at the same revision. */
export interface LogEntry {
  type: "ADDED" | "MODIFIED" | "DELETED";
  key: string;
  n: number;
}

/** The KV key of the pointer of `key` (`/a/b/c` → `["k", "a", "b", "c"]`). */
export function pointerKey(key: string): Deno.KvKey {
  return [POINTER_PREFIX, ...key.slice(1).split("/")];
}

/** The store key of a pointer's KV key (the inverse of {@linkcode pointerKey}). */
export function keyOfPointer(kvKey: Deno.KvKey): string {
  return "/" + kvKey.slice(1).join("/");
}

/** The KV key of chunk `i` of the data written at revision `rev`. */
export function dataKey(rev: number, i: number): Deno.KvKey {
  return [DATA_PREFIX, rev, i];
}

/** The KV key of the change-log entry of revision `rev`. */
export function logKey(rev: number): Deno.KvKey {
  return [LOG_PREFIX, rev];
}

/**
 * Throws a TypeError unless `key` is a store key: `/`-separated non-empty segments, a leading
 * `/` and no trailing one.
 */
export function assertKey(action: string, key: string): void {
  if (typeof key !== "string" || !/^(\/[^/]+)+$/.test(key)) {
    throw new TypeError(
      `Cannot ${action} '${key}': a key is '/'-separated non-empty segments with a leading '/' and no trailing '/'`,
    );
  }
}

/** Throws a TypeError unless `prefix` starts and ends with `/` and has no empty segment. */
export function assertPrefix(action: string, prefix: string): void {
  if (typeof prefix !== "string" || !/^\/([^/]+\/)*$/.test(prefix)) {
    throw new TypeError(
      `Cannot ${action} prefix '${prefix}': a prefix starts and ends with '/' and has no empty segment`,
    );
  }
}

/** Throws a TypeError unless `obj` looks like a KubeObject (a plain object with plain metadata). */
export function assertObject(action: string, key: string, obj: unknown): void {
  if (!isPlainObject(obj) || !isPlainObject(obj.metadata)) {
    throw new TypeError(
      `Cannot ${action} '${key}': the object must be a JSON object with metadata`,
    );
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `obj` as UTF-8 JSON. */
export function encodeObject(obj: KubeObject): Uint8Array {
  return encoder.encode(JSON.stringify(obj));
}

/** `bytes` cut into chunks of at most {@linkcode CHUNK_BYTES} (at least one chunk, even when empty). */
export function chunk(bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length || chunks.length === 0; at += CHUNK_BYTES) {
    chunks.push(bytes.subarray(at, at + CHUNK_BYTES));
  }
  return chunks;
}

/** Data chunks read from KV (`["d", rev, i]` entries), grouped by revision and ordered by i. */
export async function groupChunks(
  entries: AsyncIterable<Deno.KvEntry<Uint8Array>>,
): Promise<Map<number, Uint8Array[]>> {
  const chunks = new Map<number, Uint8Array[]>();
  for await (const { key, value } of entries) {
    const [, rev, i] = key as [string, number, number];
    let parts = chunks.get(rev);
    if (!parts) chunks.set(rev, parts = []);
    parts[i] = value;
  }
  return chunks;
}

/**
 * The object written at `rev` (deep-frozen), from its `n` chunks in `chunks`.
 * @throws {Error} when a chunk is missing (`what` names the object in the message)
 */
export function objectAt(
  chunks: ReadonlyMap<number, Uint8Array[]>,
  rev: number,
  n: number,
  what: string,
): KubeObject {
  const parts = chunks.get(rev) ?? [];
  let present = 0;
  for (let i = 0; i < n; i++) if (parts[i]) present++;
  if (present !== n || parts.length !== n) {
    throw new Error(
      `The data of '${what}' at revision ${rev} is damaged: ${present} of ${n} chunks are present`,
    );
  }
  return decodeObject(parts);
}

/** The object whose JSON is the concatenation of `chunks`, deep-frozen. */
function decodeObject(chunks: readonly Uint8Array[]): KubeObject {
  let bytes: Uint8Array;
  if (chunks.length === 1 && chunks[0]) {
    bytes = chunks[0];
  } else {
    bytes = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
  }
  return deepFreeze(JSON.parse(decoder.decode(bytes)) as KubeObject);
}

/**
 * Freezes `value` and everything it holds. Objects shared between the cache, the watch window
 * and list filters are frozen so that no caller can change store state through them.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** An upper bound of the size Deno KV counts for `kvKey` (FoundationDB tuple encoding). */
export function keySize(kvKey: Deno.KvKey): number {
  let size = 0;
  for (const part of kvKey) {
    // strings: type byte + UTF-8 (a NUL is escaped as two bytes) + terminator; numbers: 9
    size += typeof part === "string" ? 2 + utf8Length(part) : 9;
  }
  return size;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c === 0 ? 2 : c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
  }
  return n;
}

/**
 * An upper bound of what one mutation adds to Deno KV's total mutation size: a set counts its
 * key twice (once as a key, once beside its value) plus the value; a delete counts its key once.
 * `valueBytes` is the byte length of a Uint8Array value or an upper bound of a serialized value.
 */
export function mutationSize(kvKey: Deno.KvKey, valueBytes?: number): number {
  const k = keySize(kvKey);
  return valueBytes === undefined ? k : 2 * k + valueBytes;
}

/** An upper bound of the V8-serialized size of a {@linkcode Pointer}. */
export const POINTER_VALUE_BYTES = 64;

/** An upper bound of the V8-serialized size of the {@linkcode LogEntry} of `key`. */
export function logValueBytes(key: string): number {
  return 64 + utf8Length(key);
}

/** An upper bound of the V8-serialized size of the revision number. */
export const REV_VALUE_BYTES = 16;

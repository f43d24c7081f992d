/**
 * {@linkcode Store} on Deno KV (a SQLite file, or `:memory:`).
 *
 * One process owns a data file. Writes go through an in-process queue and are group-committed:
 * the writes waiting when a commit starts are validated in order against memory and committed
 * together in one atomic operation, each with its own revision and its own outcome. Every live
 * object is held in memory, so get and list never touch KV; watches are served from a window of
 * recent events fed by `kv.watch` on the revision key.
 *
 * KV layout (see `_kv_layout.ts`): `["rev"]` the revision, `["k", ...segments]` a pointer to a
 * live key's data, `["d", rev, i]` chunk i of the JSON written at `rev` (written once, shared by
 * the pointer and the log), `["log", rev]` the change made at `rev`.
 *
 * @example
 * ```ts
 * const store = await openKvStore("cluster.db", { historyLimit: 5000 });
 * try {
 *   const cm = await store.create("/core/configmaps/default/app", {
 *     apiVersion: "v1",
 *     kind: "ConfigMap",
 *     metadata: { name: "app", namespace: "default" },
 *   });
 *   await store.update("/core/configmaps/default/app", cm, Number(cm.metadata.resourceVersion));
 * } finally {
 *   await store.close();
 * }
 * ```
 *
 * @module
 */

import { type IndexEntry, ObjectIndex } from "./_kv_index.ts";
import {
  assertKey,
  assertObject,
  assertPrefix,
  chunk,
  DATA_PREFIX,
  dataKey,
  deepFreeze,
  encodeObject,
  groupChunks,
  keyOfPointer,
  keySize,
  KV_MAX_KEY_BYTES,
  KV_MAX_MUTATIONS,
  KV_MAX_TOTAL_BYTES,
  LOG_PREFIX,
  type LogEntry,
  logKey,
  logValueBytes,
  mutationSize,
  objectAt,
  type Pointer,
  POINTER_PREFIX,
  POINTER_VALUE_BYTES,
  pointerKey,
  REV_KEY,
  REV_VALUE_BYTES,
} from "./_kv_layout.ts";
import { EventWindow, KvWatch } from "./_kv_watch.ts";
import { cloneJson, type KubeObject } from "./object.ts";
import {
  type ListOptions,
  type ListResult,
  type Store,
  StoreError,
  type StoreEvent,
  type StoreWatch,
} from "./store.ts";

/** Default of {@linkcode KvStoreOptions.historyLimit}. */
export const DEFAULT_HISTORY_LIMIT = 10_000;
/** Default of {@linkcode KvStoreOptions.maxObjectBytes}: 700 KiB. */
export const DEFAULT_MAX_OBJECT_BYTES = 700 * 1024;
/**
 * The largest allowed {@linkcode KvStoreOptions.maxObjectBytes}: 768 KiB. One object with its
 * pointer, log entry and keys must fit in one atomic commit (Deno KV allows 800 KiB).
 */
export const MAX_OBJECT_BYTES_LIMIT = 768 * 1024;
/** Default of {@linkcode KvStoreOptions.watchBufferSize}. */
export const DEFAULT_WATCH_BUFFER_SIZE = 10_000;

/** Options of {@linkcode openKvStore}. */
export interface KvStoreOptions {
  /**
   * How many change-log events are kept for watches (default 10000). A watch from an older
   * revision gets `StoreError("Expired")`. Older log entries are deleted in the background.
   */
  historyLimit?: number;
  /**
   * The largest object accepted, in bytes of its JSON encoding (default 700 KiB, at most
   * {@linkcode MAX_OBJECT_BYTES_LIMIT}); a larger create or update fails with
   * `StoreError("TooLarge")`.
   */
  maxObjectBytes?: number;
  /**
   * How many live events one watch may have waiting for its consumer (default 10000). A watch
   * that falls further behind ends with `StoreError("Expired")` so that its client relists.
   */
  watchBufferSize?: number;
}

/**
 * Opens the store in the Deno KV file at `path` (created when missing), or in memory when
 * `path` is `":memory:"`, and loads every live object and the kept change log into memory.
 * Only one store may have a data file open at a time.
 */
export async function openKvStore(path: string, options: KvStoreOptions = {}): Promise<KvStore> {
  const settings = resolveOptions(options);
  const kv = await Deno.openKv(path);
  try {
    return construct(kv, await load(kv, settings.historyLimit), settings);
  } catch (error) {
    kv.close();
    throw error;
  }
}

interface Settings {
  historyLimit: number;
  maxObjectBytes: number;
  watchBufferSize: number;
}

function resolveOptions(options: KvStoreOptions): Settings {
  const settings = {
    historyLimit: options.historyLimit ?? DEFAULT_HISTORY_LIMIT,
    maxObjectBytes: options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES,
    watchBufferSize: options.watchBufferSize ?? DEFAULT_WATCH_BUFFER_SIZE,
  };
  const limits: [keyof Settings, number][] = [
    ["historyLimit", Number.MAX_SAFE_INTEGER],
    ["maxObjectBytes", MAX_OBJECT_BYTES_LIMIT],
    ["watchBufferSize", Number.MAX_SAFE_INTEGER],
  ];
  for (const [name, max] of limits) {
    const value = settings[name];
    if (!Number.isSafeInteger(value) || value < 1 || value > max) {
      throw new RangeError(
        `Cannot open the KV store: ${name} must be an integer from 1 to ${max}, got ${value}`,
      );
    }
  }
  return settings;
}

/** What {@linkcode load} reads from KV. */
interface Loaded {
  rev: number;
  revStamp: string | null;
  index: ObjectIndex;
  window: EventWindow;
  /** log entries up to this revision are gone from KV */
  kvCompacted: number;
}

async function load(kv: Deno.Kv, historyLimit: number): Promise<Loaded> {
  const revEntry = await kv.get<number>(REV_KEY);
  const rev = revEntry.value ?? 0;
  const chunks = await groupChunks(kv.list<Uint8Array>({ prefix: [DATA_PREFIX] }, BULK));
  const objects = new Map<number, KubeObject>();
  const decode = (r: number, n: number, key: string): KubeObject => {
    let obj = objects.get(r);
    if (!obj) objects.set(r, obj = objectAt(chunks, r, n, key));
    return obj;
  };

  const live: [string, IndexEntry][] = [];
  for await (const { key, value } of kv.list<Pointer>({ prefix: [POINTER_PREFIX] }, BULK)) {
    const k = keyOfPointer(key);
    live.push([k, { obj: decode(value.rev, value.n, k), rev: value.rev, n: value.n }]);
  }

  const events: StoreEvent[] = [];
  for await (const { key, value } of kv.list<LogEntry>({ prefix: [LOG_PREFIX] }, BULK)) {
    const r = key[1] as number;
    const previous = events.at(-1);
    if (previous && r !== previous.revision + 1) {
      throw new Error(
        `Cannot open the KV store: the change log jumps from revision ${previous.revision} to ${r}`,
      );
    }
    events.push({
      type: value.type,
      key: value.key,
      revision: r,
      object: decode(r, value.n, value.key),
    });
  }
  const last = events.at(-1)?.revision ?? rev;
  if (last !== rev) {
    throw new Error(
      `Cannot open the KV store: the revision is ${rev} but the change log ends at ${last}`,
    );
  }
  const kvCompacted = (events[0]?.revision ?? rev + 1) - 1;
  const window = new EventWindow(kvCompacted);
  for (const event of events) window.append(event);
  window.trim(historyLimit);
  return {
    rev,
    revStamp: revEntry.versionstamp,
    index: ObjectIndex.from(live),
    window,
    kvCompacted,
  };
}

const BULK = { batchSize: 1000 } as const;

/** One queued write. `obj` is the caller's object, copied when the write was queued. */
interface PendingWrite {
  action: "create" | "update" | "delete";
  key: string;
  obj: KubeObject | undefined;
  expectedRevision: number | undefined;
  resolve: (obj: KubeObject) => void;
  reject: (error: unknown) => void;
}

/** A KV mutation: a set, or a delete when `value` is undefined. */
interface Mutation {
  key: Deno.KvKey;
  value?: unknown;
}

/** A write validated against the state before it, ready to commit at revision `rev`. */
interface PlannedWrite {
  rev: number;
  /** the key's new state (null: deleted) */
  entry: IndexEntry | null;
  /** what the write returns (deep-frozen; callers get a copy) */
  obj: KubeObject;
  mutations: Mutation[];
  /** an upper bound of the mutations' size as Deno KV counts it */
  bytes: number;
  /** an upper bound of the size of the keys the mutations set */
  keyBytes: number;
}

/** The outcome of one write in a batch. */
type Outcome = { write: PendingWrite; plan: PlannedWrite } | {
  write: PendingWrite;
  error: unknown;
};

/** The private constructor of {@linkcode KvStore}, handed to {@linkcode openKvStore} alone. */
let construct: (kv: Deno.Kv, loaded: Loaded, settings: Settings) => KvStore;

/** {@linkcode Store} on Deno KV. Open one with {@linkcode openKvStore}. */
export class KvStore implements Store {
  static {
    construct = (kv, loaded, settings) => new KvStore(kv, loaded, settings);
  }

  readonly #kv: Deno.Kv;
  readonly #settings: Settings;
  /** how many log entries compaction waits for before it deletes them in one commit */
  readonly #compactBatch: number;
  readonly #index: ObjectIndex;
  readonly #window: EventWindow;
  readonly #watches = new Set<KvWatch>();
  /** the revision of the last committed write */
  #rev: number;
  /** the versionstamp of `["rev"]` after our last commit: any other writer changes it */
  #revStamp: string | null;
  #kvCompacted: number;

  #queue: PendingWrite[] = [];
  /** the next this-many writes are committed one per commit (after a batch failed) */
  #singles = 0;
  #draining = false;
  #drained: Promise<void> = Promise.resolve();
  #compactionWanted = true;
  /** set when another writer changed the data file; every later write fails with it */
  #fenced: Error | undefined;

  readonly #reader: ReadableStreamDefaultReader<[Deno.KvEntryMaybe<number>]>;
  readonly #fed: Promise<void>;
  #feedError: Error | undefined;
  /** the newest revision kv.watch has announced */
  #notified = 0;
  #catchingUp: Promise<void> | undefined;
  #catchUpAgain = false;
  #catchUpActive = false;

  #closing = false;
  #closed: Promise<void> | undefined;

  private constructor(kv: Deno.Kv, loaded: Loaded, settings: Settings) {
    this.#kv = kv;
    this.#settings = settings;
    this.#compactBatch = Math.min(256, Math.ceil(settings.historyLimit / 10));
    this.#index = loaded.index;
    this.#window = loaded.window;
    this.#rev = loaded.rev;
    this.#revStamp = loaded.revStamp;
    this.#kvCompacted = loaded.kvCompacted;
    this.#reader = kv.watch<[number]>([REV_KEY]).getReader();
    this.#fed = this.#feed();
    this.#kick();
  }

  revision(): number {
    return this.#rev;
  }

  // deno-lint-ignore require-await
  async get(key: string): Promise<KubeObject | null> {
    assertKey("get", key);
    const entry = this.#index.get(key);
    return entry ? cloneJson(entry.obj) : null;
  }

  /**
   * Objects under `prefix` in key order, at the current revision. `filter` sees the store's own
   * (frozen) objects; `limit` 0 means no limit.
   */
  // deno-lint-ignore require-await
  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    assertPrefix("list", prefix);
    const { limit = 0, startAfter, filter } = options;
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError(
        `Cannot list '${prefix}': limit must be a non-negative integer, got ${limit}`,
      );
    }
    const items: KubeObject[] = [];
    let next: string | undefined;
    let remaining = 0;
    for (const [key, entry] of this.#index.range(prefix, startAfter)) {
      if (filter && !filter(entry.obj)) continue;
      if (limit > 0 && items.length === limit) {
        // Without a filter, the rest of the range can be counted without visiting it.
        if (!filter) {
          remaining = this.#index.count(prefix, next);
          break;
        }
        remaining++;
        continue;
      }
      items.push(cloneJson(entry.obj));
      next = key;
    }
    const result: ListResult = { items, revision: this.#rev };
    if (remaining > 0 && next !== undefined) {
      result.next = next;
      result.remaining = remaining;
    }
    return result;
  }

  async create(key: string, obj: KubeObject): Promise<KubeObject> {
    assertKey("create", key);
    assertObject("create", key, obj);
    return await this.#enqueue("create", key, cloneJson(obj), undefined);
  }

  async update(key: string, obj: KubeObject, expectedRevision?: number): Promise<KubeObject> {
    assertKey("update", key);
    assertObject("update", key, obj);
    assertRevision("update", key, expectedRevision);
    return await this.#enqueue("update", key, cloneJson(obj), expectedRevision);
  }

  async delete(key: string, expectedRevision?: number): Promise<KubeObject> {
    assertKey("delete", key);
    assertRevision("delete", key, expectedRevision);
    return await this.#enqueue("delete", key, undefined, expectedRevision);
  }

  watch(prefix: string, fromRevision: number): StoreWatch {
    assertPrefix("watch", prefix);
    if (!Number.isSafeInteger(fromRevision) || fromRevision < 0) {
      throw new RangeError(
        `Cannot watch '${prefix}': fromRevision must be a non-negative integer, got ${fromRevision}`,
      );
    }
    if (this.#closing) throw new Error(`Cannot watch '${prefix}': the store is closed`);
    if (this.#feedError) throw this.#feedError;
    const oldest = this.#window.floor;
    if (fromRevision < oldest) {
      throw new StoreError(
        "Expired",
        prefix,
        `Cannot watch '${prefix}' from revision ${fromRevision}: history before revision ${oldest} has been compacted`,
      );
    }
    const watch = new KvWatch(
      prefix,
      fromRevision,
      this.#window,
      this.#settings.watchBufferSize,
      (w) => this.#watches.delete(w),
    );
    this.#watches.add(watch);
    return watch;
  }

  oldestWatchableRevision(): number {
    return this.#window.floor;
  }

  /**
   * Lets queued writes finish, ends every watch, stops the feed and closes the KV handle.
   * Later writes and watches fail; get and list keep answering from memory. Calling it again
   * returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    this.#closing = true;
    await this.#drained;
    for (const watch of [...this.#watches]) watch.end();
    await this.#reader.cancel();
    await this.#fed;
    this.#kv.close();
  }

  // ---- writes ----

  #enqueue(
    action: PendingWrite["action"],
    key: string,
    obj: KubeObject | undefined,
    expectedRevision: number | undefined,
  ): Promise<KubeObject> {
    if (this.#closing) {
      return Promise.reject(new Error(`Cannot ${action} '${key}': the store is closed`));
    }
    if (this.#fenced) return Promise.reject(this.#fenced);
    return new Promise((resolve, reject) => {
      this.#queue.push({ action, key, obj, expectedRevision, resolve, reject });
      this.#kick();
    });
  }

  /** Starts the writer loop unless it runs. It starts a microtask later, so that writes queued together commit together. */
  #kick(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#drained = Promise.resolve().then(() => this.#drain());
  }

  async #drain(): Promise<void> {
    try {
      while (true) {
        if (this.#queue.length > 0) await this.#commitBatch();
        if (this.#compactionDue()) await this.#compactStep();
        else if (this.#queue.length === 0) return;
      }
    } finally {
      this.#draining = false;
    }
  }

  /** Takes the writes that fit in one atomic commit off the queue, commits them and settles each. */
  async #commitBatch(): Promise<void> {
    const maxWrites = this.#singles > 0 ? 1 : Infinity;
    const overlay = new Map<string, IndexEntry | null>();
    const outcomes: Outcome[] = [];
    let rev = this.#rev;
    let mutations = 1;
    let bytes = mutationSize(REV_KEY) + mutationSize(REV_KEY, REV_VALUE_BYTES);
    let keyBytes = keySize(REV_KEY);
    let taken = 0;
    while (taken < this.#queue.length && outcomes.length < maxWrites) {
      const write = this.#queue[taken] as PendingWrite;
      const current = overlay.has(write.key) ? overlay.get(write.key) : this.#index.get(write.key);
      const plan = this.#plan(write, current ?? undefined, rev + 1);
      if (plan instanceof StoreError) {
        outcomes.push({ write, error: plan });
        taken++;
        continue;
      }
      const fits = mutations + plan.mutations.length <= KV_MAX_MUTATIONS &&
        bytes + plan.bytes <= KV_MAX_TOTAL_BYTES && keyBytes + plan.keyBytes <= KV_MAX_KEY_BYTES;
      if (!fits && rev > this.#rev) break;
      outcomes.push({ write, plan });
      taken++;
      rev++;
      overlay.set(write.key, plan.entry);
      mutations += plan.mutations.length;
      bytes += plan.bytes;
      keyBytes += plan.keyBytes;
    }
    this.#queue.splice(0, taken);
    this.#singles = Math.max(0, this.#singles - taken);
    if (rev === this.#rev) {
      settle(outcomes);
      return;
    }

    const op = this.#kv.atomic().check({ key: REV_KEY, versionstamp: this.#revStamp }).set(
      REV_KEY,
      rev,
    );
    for (const outcome of outcomes) {
      if (!("plan" in outcome)) continue;
      for (const m of outcome.plan.mutations) {
        if (m.value === undefined) op.delete(m.key);
        else op.set(m.key, m.value);
      }
    }
    let result: Deno.KvCommitResult | Deno.KvCommitError;
    try {
      result = await op.commit();
    } catch (error) {
      if (outcomes.length > 1) {
        // Retry one by one, so that only the write that cannot commit fails.
        this.#queue.unshift(...outcomes.map((o) => o.write));
        this.#singles = outcomes.length;
        return;
      }
      const write = outcomes[0]?.write as PendingWrite;
      write.reject(
        error instanceof TypeError && /too large/i.test(error.message)
          ? new StoreError(
            "TooLarge",
            write.key,
            `Cannot ${write.action} '${write.key}': ${error.message}`,
          )
          : error,
      );
      return;
    }
    if (!result.ok) {
      this.#fence();
      for (const { write } of outcomes) write.reject(this.#fenced);
      return;
    }
    this.#revStamp = result.versionstamp;
    for (const outcome of outcomes) {
      if (!("plan" in outcome)) continue;
      const { write, plan } = outcome;
      if (plan.entry) this.#index.set(write.key, plan.entry);
      else this.#index.delete(write.key);
    }
    this.#rev = rev;
    settle(outcomes);
    // Our own commit is durable and in the index: feed it to watchers now rather than when
    // kv.watch gets round to announcing it (which has been seen to lag by seconds).
    this.#notified = Math.max(this.#notified, rev);
    this.#catchUp().catch((e) => this.#feedFailed(e));
  }

  /** Validates `write` against `current` (the key's state before it) and plans it at `rev`. */
  #plan(
    write: PendingWrite,
    current: IndexEntry | undefined,
    rev: number,
  ): PlannedWrite | StoreError {
    const { action, key, expectedRevision } = write;
    if (action === "create" && current) {
      return new StoreError("AlreadyExists", key, `Cannot create '${key}': it already exists`);
    }
    if (action !== "create") {
      if (!current) {
        return new StoreError("NotFound", key, `Cannot ${action} '${key}': it does not exist`);
      }
      if (expectedRevision !== undefined && current.rev !== expectedRevision) {
        return new StoreError(
          "Conflict",
          key,
          `Cannot ${action} '${key}': expected resourceVersion ${expectedRevision} but it is ${current.rev}`,
        );
      }
    }
    const source = (action === "delete" ? current?.obj : write.obj) as KubeObject;
    const obj: KubeObject = {
      ...source,
      metadata: { ...source.metadata, resourceVersion: String(rev) },
    };
    const bytes = encodeObject(obj);
    if (action !== "delete" && bytes.length > this.#settings.maxObjectBytes) {
      return new StoreError(
        "TooLarge",
        key,
        `Cannot ${action} '${key}': the object is ${bytes.length} bytes as JSON, more than the limit of ${this.#settings.maxObjectBytes} bytes`,
      );
    }
    deepFreeze(obj);
    const chunks = chunk(bytes);
    const n = chunks.length;
    const mutations: Mutation[] = chunks.map((c, i) => ({ key: dataKey(rev, i), value: c }));
    const pointer = pointerKey(key);
    mutations.push(
      action === "delete"
        ? { key: pointer }
        : { key: pointer, value: { rev, n } satisfies Pointer },
      {
        key: logKey(rev),
        value: { type: LOG_TYPES[action], key, n } satisfies LogEntry,
      },
    );
    // The old version's data is only kept for the log; once its log entry is compacted it goes now.
    if (current && current.rev <= this.#kvCompacted) {
      for (let i = 0; i < current.n; i++) mutations.push({ key: dataKey(current.rev, i) });
    }
    let size = 0;
    let keyBytes = 0;
    for (const m of mutations) {
      if (m.value === undefined) {
        size += mutationSize(m.key);
        continue;
      }
      const valueBytes = m.value instanceof Uint8Array
        ? m.value.length
        : m.key === pointer
        ? POINTER_VALUE_BYTES
        : logValueBytes(key);
      size += mutationSize(m.key, valueBytes);
      keyBytes += keySize(m.key);
    }
    return {
      rev,
      entry: action === "delete" ? null : { obj, rev, n },
      obj,
      mutations,
      bytes: size,
      keyBytes,
    };
  }

  #fence(): void {
    this.#fenced ??= new Error(
      "Cannot write: the KV data file was changed by another writer; a KvStore must be its file's only writer",
    );
  }

  // ---- compaction ----

  #compactionDue(): boolean {
    return this.#compactionWanted && !this.#closing && !this.#fenced &&
      this.#window.floor - this.#kvCompacted >= this.#compactBatch;
  }

  /** Deletes one commit's worth of log entries older than the window, with their unused data. */
  async #compactStep(): Promise<void> {
    const from = this.#kvCompacted;
    const target = this.#window.floor;
    try {
      const entries = await Array.fromAsync(
        this.#kv.list<LogEntry>({ start: logKey(from + 1), end: logKey(target + 1) }, {
          limit: KV_MAX_MUTATIONS,
          batchSize: KV_MAX_MUTATIONS,
        }),
      );
      const op = this.#kv.atomic().check({ key: REV_KEY, versionstamp: this.#revStamp });
      let mutations = 0;
      let through = entries.length === 0 ? target : from;
      for (const { key, value } of entries) {
        const r = key[1] as number;
        const live = this.#index.get(value.key)?.rev === r;
        const count = 1 + (live ? 0 : value.n);
        if (mutations + count > KV_MAX_MUTATIONS) break;
        op.delete(key);
        if (!live) { for (let i = 0; i < value.n; i++) op.delete(dataKey(r, i)); }
        mutations += count;
        through = r;
      }
      const result = await op.commit();
      if (!result.ok) {
        this.#fence();
        return;
      }
      this.#kvCompacted = through;
    } catch (error) {
      this.#compactionWanted = false;
      console.error(
        "KvStore: compacting the change log failed; retrying after the next write",
        error,
      );
    }
  }

  // ---- the watch feed ----

  /** Follows `["rev"]` and moves every new log entry (with its data) into the window. */
  async #feed(): Promise<void> {
    try {
      while (true) {
        const { done, value } = await this.#reader.read();
        if (done) return;
        this.#notified = Math.max(this.#notified, value[0].value ?? 0);
        await this.#catchUp();
      }
    } catch (error) {
      this.#feedFailed(error);
    }
  }

  /**
   * Appends to the window what Deno KV has announced and the index already shows, never more:
   * kv.watch can announce a commit before `#commitBatch` has put it in the index, and a
   * watcher that reads an object its watch just reported must find it (as with etcd). A
   * commit calls this again once its index update is done. One catch-up runs at a time.
   */
  #catchUp(): Promise<void> {
    if (this.#catchUpActive) {
      this.#catchUpAgain = true;
      return this.#catchingUp ?? Promise.resolve();
    }
    // `#catchUpActive` is set and cleared synchronously around the loop, so a call that finds
    // it set is always seen by the loop's last check (a promise's `finally` would clear it a
    // microtask late, and a request made in between would be lost).
    this.#catchUpActive = true;
    this.#catchingUp = (async () => {
      try {
        do {
          this.#catchUpAgain = false;
          const target = Math.min(this.#notified, this.#rev);
          while (this.#window.last < target) {
            await this.#ingest(Math.min(target, this.#window.last + INGEST_BATCH));
          }
        } while (this.#catchUpAgain);
      } finally {
        this.#catchUpActive = false;
      }
    })();
    return this.#catchingUp;
  }

  #feedFailed(error: unknown): void {
    if (this.#closing || this.#feedError) return;
    this.#feedError = error instanceof Error ? error : new Error(String(error));
    for (const watch of [...this.#watches]) watch.end(this.#feedError);
  }

  /** Reads the log entries and data of revisions up to `to` and appends them to the window. */
  async #ingest(to: number): Promise<void> {
    const from = this.#window.last;
    const range = (prefix: string) => ({ start: [prefix, from + 1], end: [prefix, to + 1] });
    const [entries, chunks] = await Promise.all([
      Array.fromAsync(this.#kv.list<LogEntry>(range(LOG_PREFIX), BULK)),
      groupChunks(this.#kv.list<Uint8Array>(range(DATA_PREFIX), BULK)),
    ]);
    for (const { key, value } of entries) {
      const revision = key[1] as number;
      const object = objectAt(chunks, revision, value.n, value.key);
      const event: StoreEvent = { type: value.type, key: value.key, revision, object };
      this.#window.append(event);
      for (const watch of this.#watches) watch.offer(event);
    }
    if (this.#window.last !== to) {
      throw new Error(
        `KvStore: the change log ends at revision ${this.#window.last}, expected ${to}`,
      );
    }
    this.#window.trim(this.#settings.historyLimit);
    if (this.#window.floor - this.#kvCompacted >= this.#compactBatch) {
      this.#compactionWanted = true;
      this.#kick();
    }
  }
}

/** The most revisions the feed reads from KV at once. */
const INGEST_BATCH = 500;

const LOG_TYPES = { create: "ADDED", update: "MODIFIED", delete: "DELETED" } as const;

function settle(outcomes: Outcome[]): void {
  for (const outcome of outcomes) {
    if ("plan" in outcome) outcome.write.resolve(cloneJson(outcome.plan.obj));
    else outcome.write.reject(outcome.error);
  }
}

function assertRevision(action: string, key: string, revision: number | undefined): void {
  if (revision !== undefined && (!Number.isSafeInteger(revision) || revision < 0)) {
    throw new RangeError(
      `Cannot ${action} '${key}': expectedRevision must be a non-negative integer, got ${revision}`,
    );
  }
}

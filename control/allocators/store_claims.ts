/**
 * {@linkcode StoreClaims}: which slots of some {@linkcode RangeAllocator}s are taken, derived
 * from the objects in the store, plus the reservations of writes in flight. This is what makes
 * an allocator crash-safe without storing anything besides the objects themselves:
 *
 * - At start it lists the store prefix (one consistent revision) and marks every value an object
 *   holds; then it follows the store's watch from that revision, so it learns of every change
 *   whoever made it (an API client, the garbage collector, the namespace controller). When the
 *   watch fails (history compacted, queue overflow) it lists again and applies the difference.
 * - A writer takes values on a {@linkcode Reservation} (synchronously: two writers never get the
 *   same value), writes its object, then settles the reservation: `abort()` when the write
 *   failed frees the values at once; `commit(revision)` keeps them taken until the watch has
 *   passed that revision, from when on the object's own claim holds them (or, if the object is
 *   already gone again, nothing does).
 * - A value an object gives up (deletion, update) becomes free only when the watch shows the
 *   change, never earlier: nobody can be handed a value the store still shows in use.
 * - After a restart the state is rebuilt from the store: what the store holds is taken, the
 *   rest is free. Nothing leaks, nothing is handed out twice.
 *
 * Values several objects hold (possible when something bypassed the allocator) are counted, so
 * a value is free only once no object holds it.
 *
 * @example
 * ```ts
 * const claims = new StoreClaims({
 *   store, prefix: "/core/services/", name: "service allocator",
 *   pools: { ip: new RangeAllocator(65534) },
 *   slotsOf: (svc) => ({ ip: ipSlotsOf(svc) }),
 * });
 * await claims.start();
 * const r = claims.reserve();
 * const slot = r.takeNext("ip");
 * try {
 *   const stored = await store.create(key, withIp(svc, slot));
 *   r.commit(Number(stored.metadata.resourceVersion));
 * } catch (e) {
 *   r.abort();
 *   throw e;
 * }
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "../../storage/clock.ts";
import type { KubeObject } from "../../storage/object.ts";
import type { Store, StoreWatch } from "../../storage/store.ts";
import type { RangeAllocator } from "./range_allocator.ts";

/** Slots by pool name. */
export type Slots = Record<string, readonly number[]>;

/** Options of {@linkcode StoreClaims}. */
export interface StoreClaimsOptions {
  store: Store;
  /** the store prefix of the objects that hold values, e.g. `/core/services/` */
  prefix: string;
  /** how log lines name it */
  name: string;
  /** the ranges values are taken from, by pool name */
  pools: Record<string, RangeAllocator>;
  /** the slots `obj` holds, by pool; slots outside a pool's range are ignored */
  slotsOf(obj: KubeObject): Slots;
  /** slots that are always taken, whatever the store holds (e.g. IPs kept for one service) */
  fixed?: Slots;
  /** told of every observed change once the claims reflect it (`undefined`: deleted) */
  onChange?(key: string, obj: KubeObject | undefined): void;
  /** pause before listing again after the watch ended or failed (default 1 s) */
  retryMs?: number;
  clock?: Clock;
}

interface Pending {
  release(): void;
  revision: number;
}

/** Values taken from ranges for one write, until it is settled; see {@linkcode StoreClaims}. */
export interface Reservation {
  /**
   * Take `slot` of `pool`.
   * @throws {AllocationError} `OutOfRange`, or `Allocated` when an object or another
   * reservation holds it
   */
  take(pool: string, slot: number): void;
  /**
   * Take a free slot of `pool` and return it.
   * @throws {AllocationError} `Full`
   */
  takeNext(pool: string): number;
  /** Nothing was written (a failure, a dry run): give the slots back now. */
  abort(): void;
  /**
   * The write that uses these slots committed at store `revision`: they stay taken until the
   * watch has passed it, and are then held (or not) by what the store shows.
   */
  commit(revision: number): void;
}

/** What a reservation needs from its {@linkcode StoreClaims}. */
interface ClaimOps {
  take(pool: string, slot: number): void;
  takeNext(pool: string): number;
  unclaim(pool: string, slot: number): void;
  settle(release: () => void, revision: number): void;
}

class OpenReservation implements Reservation {
  readonly #ops: ClaimOps;
  readonly #taken: Array<[pool: string, slot: number]> = [];
  #settled = false;

  constructor(ops: ClaimOps) {
    this.#ops = ops;
  }

  take(pool: string, slot: number): void {
    this.#open();
    this.#ops.take(pool, slot);
    this.#taken.push([pool, slot]);
  }

  takeNext(pool: string): number {
    this.#open();
    const slot = this.#ops.takeNext(pool);
    this.#taken.push([pool, slot]);
    return slot;
  }

  abort(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#release();
  }

  commit(revision: number): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#ops.settle(() => this.#release(), revision);
  }

  #release(): void {
    for (const [pool, slot] of this.#taken.splice(0)) this.#ops.unclaim(pool, slot);
  }

  #open(): void {
    if (this.#settled) throw new Error("Cannot take slots on a settled reservation");
  }
}

/** Taken slots, from the store and from reservations; see the module documentation. */
export class StoreClaims {
  readonly #store: Store;
  readonly #prefix: string;
  readonly #name: string;
  readonly #pools: Record<string, RangeAllocator>;
  readonly #slotsOf: (obj: KubeObject) => Slots;
  readonly #onChange: ((key: string, obj: KubeObject | undefined) => void) | undefined;
  readonly #retryMs: number;
  readonly #clock: Clock;
  /** pool → slot → how many claims (objects and reservations) hold it */
  readonly #counts = new Map<string, Map<number, number>>();
  /** store key → the slots its object holds, as last observed */
  readonly #held = new Map<string, Slots>();
  /** committed reservations waiting for the watch, in no particular order */
  #pending: Pending[] = [];
  #waiters: Array<{ revision: number; resolve: () => void }> = [];
  readonly #stop = new AbortController();
  #watch: StoreWatch | undefined;
  #done: Promise<void> | undefined;
  #revision = 0;
  #started = false;
  /** what reservations change the claims through */
  readonly #ops: ClaimOps = {
    take: (pool, slot) => {
      this.#pool(pool).allocate(slot);
      this.#counts.get(pool)!.set(slot, 1);
    },
    takeNext: (pool) => {
      const slot = this.#pool(pool).allocateNext();
      this.#counts.get(pool)!.set(slot, 1);
      return slot;
    },
    unclaim: (pool, slot) => this.#unclaim(pool, slot),
    settle: (release, revision) => {
      if (revision <= this.#revision || this.#stop.signal.aborted) release();
      else this.#pending.push({ release, revision });
    },
  };

  constructor(options: StoreClaimsOptions) {
    this.#store = options.store;
    this.#prefix = options.prefix;
    this.#name = options.name;
    this.#pools = options.pools;
    this.#slotsOf = options.slotsOf;
    this.#onChange = options.onChange;
    this.#retryMs = options.retryMs ?? 1000;
    this.#clock = options.clock ?? systemClock;
    for (const pool of Object.keys(options.pools)) this.#counts.set(pool, new Map());
    for (const [pool, slots] of Object.entries(options.fixed ?? {})) {
      for (const slot of slots) this.#claim(pool, slot);
    }
  }

  /** True once the first list is in (and until stopped). */
  get running(): boolean {
    return this.#started && !this.#stop.signal.aborted;
  }

  /** How many slots of `pool` are taken (by objects or reservations). */
  used(pool: string): number {
    return this.#pool(pool).used;
  }

  /** True when `slot` of `pool` is taken. */
  has(pool: string, slot: number): boolean {
    return this.#pool(pool).has(slot);
  }

  /** Lists the prefix and marks what its objects hold, then follows the watch. */
  async start(): Promise<void> {
    if (this.#started) throw new Error(`${this.#name}: already started`);
    await this.#relist();
    this.#started = true;
    this.#done = this.#follow();
  }

  /** Stops following; waiters of {@linkcode observed} are released. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#watch?.close();
    await this.#done;
    for (const w of this.#waiters.splice(0)) w.resolve();
  }

  /** A new, empty reservation. */
  reserve(): Reservation {
    if (!this.running) throw new Error(`${this.#name} is not running`);
    return new OpenReservation(this.#ops);
  }

  /** Resolves once the claims reflect store `revision` (or when stopped). */
  observed(revision: number): Promise<void> {
    if (this.#revision >= revision || this.#stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ revision, resolve }));
  }

  /** One claim on `slot` fewer; frees it at zero. */
  #unclaim(pool: string, slot: number): void {
    const counts = this.#counts.get(pool)!;
    const n = counts.get(slot) ?? 0;
    if (n <= 1) {
      counts.delete(slot);
      this.#pool(pool).release(slot);
    } else {
      counts.set(slot, n - 1);
    }
  }

  #claim(pool: string, slot: number): void {
    const range = this.#pools[pool];
    if (!range || !Number.isInteger(slot) || slot < 0 || slot >= range.size) return;
    const counts = this.#counts.get(pool)!;
    const n = counts.get(slot) ?? 0;
    if (n === 0) range.allocate(slot);
    counts.set(slot, n + 1);
  }

  #unclaimHeld(slots: Slots): void {
    for (const [pool, list] of Object.entries(slots)) {
      const range = this.#pools[pool];
      for (const slot of list) {
        if (range && Number.isInteger(slot) && slot >= 0 && slot < range.size) {
          this.#unclaim(pool, slot);
        }
      }
    }
  }

  #pool(pool: string): RangeAllocator {
    const range = this.#pools[pool];
    if (!range) throw new Error(`${this.#name}: no pool named ${pool}`);
    return range;
  }

  /** The object at `key` is now `obj` (undefined: gone). */
  #apply(key: string, obj: KubeObject | undefined): void {
    const before = this.#held.get(key);
    if (obj) {
      const slots = this.#slotsOf(obj);
      for (const [pool, list] of Object.entries(slots)) {
        for (const slot of list) this.#claim(pool, slot);
      }
      this.#held.set(key, slots);
    } else {
      this.#held.delete(key);
    }
    if (before) this.#unclaimHeld(before);
    try {
      this.#onChange?.(key, obj);
    } catch (e) {
      console.error(`${this.#name}: a change handler threw:`, e);
    }
  }

  /** The claims now reflect `revision`: settle what waited for it. */
  #advance(revision: number): void {
    this.#revision = Math.max(this.#revision, revision);
    if (this.#pending.length > 0) {
      const due = this.#pending.filter((p) => p.revision <= this.#revision);
      this.#pending = this.#pending.filter((p) => p.revision > this.#revision);
      for (const p of due) p.release();
    }
    if (this.#waiters.length > 0) {
      const due = this.#waiters.filter((w) => w.revision <= this.#revision);
      this.#waiters = this.#waiters.filter((w) => w.revision > this.#revision);
      for (const w of due) w.resolve();
    }
  }

  async #relist(): Promise<void> {
    const listed = await this.#store.list(this.#prefix);
    const seen = new Set<string>();
    for (const obj of listed.items) {
      const { namespace, name } = obj.metadata;
      const key = namespace ? `${this.#prefix}${namespace}/${name}` : `${this.#prefix}${name}`;
      seen.add(key);
      this.#apply(key, obj);
    }
    for (const key of [...this.#held.keys()]) if (!seen.has(key)) this.#apply(key, undefined);
    this.#advance(listed.revision);
  }

  async #follow(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        const watch = this.#store.watch(this.#prefix, this.#revision);
        this.#watch = watch;
        if (signal.aborted) watch.close();
        for await (const ev of watch) {
          this.#apply(ev.key, ev.type === "DELETED" ? undefined : ev.object);
          this.#advance(ev.revision);
        }
        if (signal.aborted) return;
        console.error(`${this.#name}: watch ended; listing again`);
      } catch (e) {
        if (signal.aborted) return;
        console.error(`${this.#name}: watch failed; listing again:`, e);
      }
      await this.#clock.sleep(this.#retryMs, signal).catch(() => {});
      if (signal.aborted) return;
      try {
        await this.#relist();
      } catch (e) {
        console.error(`${this.#name}: list failed:`, e);
      }
    }
  }
}

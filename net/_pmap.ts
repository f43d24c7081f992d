/**
 * A persistent string-keyed map for the proxy model's indexes: a shared base `Map` that no
 * version changes, plus a small overlay of the changes made since (deleted keys as
 * tombstones). A new version copies only the overlay, so it costs in proportion to the
 * changes made since the base, and every older version stays valid and unchanged. When the
 * overlay grows past about 4·√n entries it is folded into a new base, which keeps both the
 * copies and the folds cheap on average.
 *
 * @example
 * ```ts
 * const a = PMap.empty<number>();
 * const edit = a.edit();
 * edit.set("x", 1);
 * const b = edit.finish(); // a is still empty
 * ```
 *
 * @module
 */

const GONE: unique symbol = Symbol("gone");
type Slot<V> = V | typeof GONE;
type Make<V> = (base: ReadonlyMap<string, V>, over: ReadonlyMap<string, Slot<V>>) => PMap<V>;

const EMPTY: ReadonlyMap<string, never> = new Map<string, never>();

/** The overlay size past which a version is folded into a new base. */
function foldAt(baseSize: number): number {
  return Math.max(64, 4 * Math.sqrt(baseSize));
}

/** An immutable map from strings to `V` (never `undefined`); see the module documentation. */
export class PMap<V> {
  readonly #base: ReadonlyMap<string, V>;
  readonly #over: ReadonlyMap<string, Slot<V>>;

  private constructor(base: ReadonlyMap<string, V>, over: ReadonlyMap<string, Slot<V>>) {
    this.#base = base;
    this.#over = over;
  }

  /** A map with no entries. */
  static empty<V>(): PMap<V> {
    return new PMap<V>(EMPTY, EMPTY);
  }

  get(key: string): V | undefined {
    const v = this.#over.get(key);
    if (v === undefined) return this.#base.get(key);
    return v === GONE ? undefined : v;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Every entry, in no particular order. */
  *entries(): IterableIterator<[string, V]> {
    for (const entry of this.#base) if (!this.#over.has(entry[0])) yield entry;
    for (const [k, v] of this.#over) if (v !== GONE) yield [k, v];
  }

  /** A builder for the next version; this map does not change. */
  edit(): PMapBuilder<V> {
    return new PMapBuilder(this.#base, this.#over, (base, over) => new PMap(base, over));
  }
}

/** Collects changes to a {@linkcode PMap}; {@linkcode PMapBuilder.finish} makes the new version. */
export class PMapBuilder<V> {
  readonly #base: ReadonlyMap<string, V>;
  #over: ReadonlyMap<string, Slot<V>>;
  #copied = false;
  readonly #make: Make<V>;

  /** @internal use {@linkcode PMap.edit} */
  constructor(base: ReadonlyMap<string, V>, over: ReadonlyMap<string, Slot<V>>, make: Make<V>) {
    this.#base = base;
    this.#over = over;
    this.#make = make;
  }

  get(key: string): V | undefined {
    const v = this.#over.get(key);
    if (v === undefined) return this.#base.get(key);
    return v === GONE ? undefined : v;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: V): void {
    this.#writable().set(key, value);
  }

  delete(key: string): void {
    if (this.#base.has(key)) this.#writable().set(key, GONE);
    else if (this.#over.has(key)) this.#writable().delete(key);
  }

  /** The new version; the builder must not be used afterwards. */
  finish(): PMap<V> {
    const over = this.#over as Map<string, Slot<V>>;
    // an overlay on nothing is the new base as it is (it holds no tombstones)
    if (this.#base.size === 0) return this.#make(over as Map<string, V>, EMPTY);
    if (over.size <= foldAt(this.#base.size)) return this.#make(this.#base, over);
    const base = new Map<string, V>();
    for (const [k, v] of this.#base) if (!over.has(k)) base.set(k, v);
    for (const [k, v] of over) if (v !== GONE) base.set(k, v);
    return this.#make(base, EMPTY);
  }

  #writable(): Map<string, Slot<V>> {
    if (!this.#copied) {
      this.#over = new Map(this.#over);
      this.#copied = true;
    }
    return this.#over as Map<string, Slot<V>>;
  }
}

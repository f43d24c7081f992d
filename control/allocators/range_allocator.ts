/**
 * {@linkcode RangeAllocator}: which of `size` numbered slots are taken (a bitmap), and the
 * choice of a free one. Pure: callers map slots to what they stand for (a service IP, a node
 * port, a node's pod CIDR) and decide what "taken" means.
 *
 * Two ways to pick the next slot:
 * - `random` (default), as kube-apiserver's service IP and node port allocators
 *   (`randomScanStrategyWithOffset`): from a random start in the upper part `[offset, size)`,
 *   the first free slot going up and wrapping; only when that part is full, the same in the lower
 *   part `[0, offset)`. The lower part stays free for values users pick themselves.
 * - `sequential`, as kube-controller-manager's node CIDR allocator: the first free slot after
 *   the last one handed out, wrapping around.
 *
 * @example
 * ```ts
 * const ports = new RangeAllocator(2768, { offset: rangeOffset(2768, 32, 128) });
 * ports.allocate(80);              // a user's choice
 * const slot = ports.allocateNext(); // somewhere in [86, 2768), or lower when that is full
 * ports.release(slot);
 * ```
 *
 * @module
 */

/** Why an allocation failed. */
export type AllocationErrorCode =
  /** no slot is free */
  | "Full"
  /** the requested slot is taken */
  | "Allocated"
  /** the requested slot is not in the range */
  | "OutOfRange";

/** A failed allocation; callers word it for their values (see `service_allocator.ts`). */
export class AllocationError extends Error {
  constructor(readonly code: AllocationErrorCode, message: string) {
    super(message);
    this.name = "AllocationError";
  }
}

/** Options of {@linkcode RangeAllocator}. */
export interface RangeAllocatorOptions {
  /** how {@linkcode RangeAllocator.allocateNext} picks (default `random`) */
  strategy?: "random" | "sequential";
  /** `random` only: slots below this are handed out only once the rest is full (default 0) */
  offset?: number;
  /** a number in [0, 1) (default `Math.random`); tests pass a fixed sequence */
  random?: () => number;
}

/**
 * Kubernetes' size of the lower part of a range kept for values users pick:
 * `min(max(16, size / step), max)`, or 0 for ranges of 16 slots or fewer. Service IPs use
 * step 16, max 256; node ports step 32, max 128.
 */
export function rangeOffset(size: number, step: number, max: number): number {
  const min = 16;
  if (size <= min) return 0;
  return Math.min(Math.max(min, Math.floor(size / step)), max);
}

/** Taken and free slots `0 … size-1`; see the module documentation. */
export class RangeAllocator {
  readonly size: number;
  readonly #bits: Uint8Array;
  readonly #strategy: "random" | "sequential";
  readonly #offset: number;
  readonly #random: () => number;
  #used = 0;
  /** `sequential`: where the next search starts */
  #cursor = 0;

  constructor(size: number, options: RangeAllocatorOptions = {}) {
    if (!Number.isSafeInteger(size) || size < 1 || size > 2 ** 24) {
      throw new RangeError(`a range must hold 1 to ${2 ** 24} slots, not ${size}`);
    }
    const offset = options.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0 || offset >= size) {
      throw new RangeError(
        `the offset of a ${size}-slot range must be 0-${size - 1}, not ${offset}`,
      );
    }
    this.size = size;
    this.#bits = new Uint8Array(Math.ceil(size / 8));
    this.#strategy = options.strategy ?? "random";
    this.#offset = offset;
    this.#random = options.random ?? Math.random;
  }

  /** How many slots are taken. */
  get used(): number {
    return this.#used;
  }

  /** How many slots are free. */
  get free(): number {
    return this.size - this.#used;
  }

  /** True when `slot` is in the range and taken. */
  has(slot: number): boolean {
    return this.#inRange(slot) && (this.#bits[slot >> 3]! & (1 << (slot & 7))) !== 0;
  }

  /**
   * Take `slot`.
   * @throws {AllocationError} `OutOfRange`, or `Allocated` when it is taken
   */
  allocate(slot: number): void {
    if (!this.#inRange(slot)) {
      throw new AllocationError(
        "OutOfRange",
        `slot ${slot} is not in the range 0-${this.size - 1}`,
      );
    }
    if (this.has(slot)) throw new AllocationError("Allocated", `slot ${slot} is already allocated`);
    this.#set(slot);
  }

  /**
   * Take a free slot and return it.
   * @throws {AllocationError} `Full` when every slot is taken
   */
  allocateNext(): number {
    if (this.#used >= this.size) throw new AllocationError("Full", "range is full");
    const slot = this.#strategy === "sequential" ? this.#nextSequential() : this.#nextRandom();
    this.#set(slot);
    return slot;
  }

  /** Free `slot`; true when it was taken. */
  release(slot: number): boolean {
    if (!this.has(slot)) return false;
    this.#bits[slot >> 3]! &= ~(1 << (slot & 7));
    this.#used--;
    return true;
  }

  #inRange(slot: number): boolean {
    return Number.isInteger(slot) && slot >= 0 && slot < this.size;
  }

  #set(slot: number): void {
    this.#bits[slot >> 3]! |= 1 << (slot & 7);
    this.#used++;
  }

  /** The first free slot of `[from, from + count)`, scanning from `start` and wrapping. */
  #scan(from: number, count: number, start: number): number | undefined {
    for (let i = 0; i < count; i++) {
      const slot = from + ((start + i) % count);
      if (!this.has(slot)) return slot;
    }
    return undefined;
  }

  #pick(count: number): number {
    return Math.min(count - 1, Math.floor(this.#random() * count));
  }

  #nextRandom(): number {
    const upper = this.size - this.#offset;
    const slot = this.#scan(this.#offset, upper, this.#pick(upper)) ??
      this.#scan(0, this.#offset, this.#pick(this.#offset));
    return slot!;
  }

  #nextSequential(): number {
    const slot = this.#scan(0, this.size, this.#cursor)!;
    this.#cursor = (slot + 1) % this.size;
    return slot;
  }
}

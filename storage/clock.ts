/**
 * `Clock`: time for code that waits (back-off, probes, heartbeats, leases), so tests advance a
 * {@linkcode FakeClock} instead of sleeping.
 *
 * @example
 * ```ts
 * const clock = new FakeClock(0);
 * const woke = clock.sleep(10_000);
 * await clock.advance(10_000); // `woke` resolves now
 * ```
 *
 * @module
 */

/** A source of time and timers. */
export interface Clock {
  /** milliseconds since the epoch */
  now(): number;
  /** resolve after `ms` (or right away when `signal` aborts) */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done, { once: true });
    });
  },
};

interface Sleeper {
  at: number;
  resolve: () => void;
}

/** A clock that only moves when told to. */
export class FakeClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const sleeper: Sleeper = { at: this.#now + Math.max(0, ms), resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener("abort", () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        resolve();
      }, { once: true });
    });
  }

  /** How many sleeps are pending. */
  get pending(): number {
    return this.#sleepers.length;
  }

  /**
   * Move time forward by `ms`, waking due sleepers in time order and letting the code they
   * resume run (microtasks and zero-delay work) before moving on.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    while (true) {
      await settle();
      this.#sleepers.sort((a, b) => a.at - b.at);
      const next = this.#sleepers[0];
      if (!next || next.at > target) break;
      this.#sleepers.shift();
      this.#now = next.at;
      next.resolve();
    }
    this.#now = target;
    await settle();
  }
}

/** Let pending promise callbacks and zero-delay timers run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

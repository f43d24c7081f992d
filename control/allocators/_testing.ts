/**
 * Test helpers for the allocators (not used by production code): a store whose watches can be
 * held back, to show what an allocator does before it has seen a change.
 *
 * @module
 */

import type { KubeObject } from "../../storage/object.ts";
import type {
  ListOptions,
  ListResult,
  Store,
  StoreEvent,
  StoreWatch,
} from "../../storage/store.ts";

/** A {@linkcode Store} whose watches deliver nothing while paused; the rest passes through. */
export class GatedStore implements Store {
  readonly #inner: Store;
  #paused = false;
  #waiters: Array<() => void> = [];

  constructor(inner: Store) {
    this.#inner = inner;
  }

  /** Hold back watch events from now on. */
  pause(): void {
    this.#paused = true;
  }

  /** Deliver the held events, and every later one. */
  resume(): void {
    this.#paused = false;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  revision(): number {
    return this.#inner.revision();
  }
  get(key: string): Promise<KubeObject | null> {
    return this.#inner.get(key);
  }
  list(prefix: string, options?: ListOptions): Promise<ListResult> {
    return this.#inner.list(prefix, options);
  }
  create(key: string, obj: KubeObject): Promise<KubeObject> {
    return this.#inner.create(key, obj);
  }
  update(key: string, obj: KubeObject, expectedRevision?: number): Promise<KubeObject> {
    return this.#inner.update(key, obj, expectedRevision);
  }
  delete(key: string, expectedRevision?: number): Promise<KubeObject> {
    return this.#inner.delete(key, expectedRevision);
  }
  oldestWatchableRevision(): number {
    return this.#inner.oldestWatchableRevision();
  }
  close(): Promise<void> {
    this.resume();
    return this.#inner.close();
  }

  watch(prefix: string, fromRevision: number): StoreWatch {
    const inner = this.#inner.watch(prefix, fromRevision);
    let closed = false;
    const gate = async () => {
      while (this.#paused && !closed) {
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    };
    return {
      close: () => {
        closed = true;
        inner.close();
        this.#waiters.splice(0).forEach((wake) => wake());
      },
      async *[Symbol.asyncIterator](): AsyncIterator<StoreEvent> {
        for await (const ev of inner) {
          await gate();
          if (closed) return;
          yield ev;
        }
      },
    };
  }
}

/**
 * The watch side of {@linkcode KvStore}: the window of recent events and the watches reading
 * from it.
 *
 * A watch first replays the window (through a cursor, so a replay costs no memory of its own)
 * and then takes live events from its own bounded queue. A watch whose queue overflows, or whose
 * replay cursor falls out of the window, ends with `StoreError("Expired")`: its client relists.
 *
 * @module
 */

import { cloneJson } from "./object.ts";
import { StoreError, type StoreEvent, type StoreWatch } from "./store.ts";

/** The recent events: every event with `floor < revision <= last`, in revision order. */
export class EventWindow {
  #events: StoreEvent[] = [];
  #head = 0;
  #floor: number;

  /** An empty window whose next event has revision `floor + 1`. */
  constructor(floor: number) {
    this.#floor = floor;
  }

  /** Events after this revision are held; a watch can start from here or later. */
  get floor(): number {
    return this.#floor;
  }

  /** The revision of the newest event held (`floor` when empty). */
  get last(): number {
    return this.#floor + this.#events.length - this.#head;
  }

  /** How many events are held. */
  get size(): number {
    return this.#events.length - this.#head;
  }

  /** Appends the event of revision `last + 1`; its object must be deep-frozen. */
  append(event: StoreEvent): void {
    if (event.revision !== this.last + 1) {
      throw new Error(
        `Cannot append the event of revision ${event.revision} to a window ending at ${this.last}`,
      );
    }
    this.#events.push(event);
  }

  /** The event of `revision`, or undefined when it is not (or no longer) held. */
  at(revision: number): StoreEvent | undefined {
    if (revision <= this.#floor) return undefined;
    return this.#events[this.#head + revision - this.#floor - 1];
  }

  /** Drops the oldest events so that at most `limit` are held. */
  trim(limit: number): void {
    const drop = this.size - limit;
    if (drop <= 0) return;
    this.#head += drop;
    this.#floor += drop;
    if (this.#head >= 1024 && this.#head * 2 >= this.#events.length) {
      this.#events = this.#events.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** One running watch over an {@linkcode EventWindow}. */
export class KvWatch implements StoreWatch {
  readonly #prefix: string;
  readonly #window: EventWindow;
  readonly #bufferSize: number;
  readonly #onEnd: (watch: KvWatch) => void;
  /** the last revision the replay has passed */
  #cursor: number;
  /** the replay covers revisions up to here; live events come after */
  readonly #liveFrom: number;
  #queue: StoreEvent[] = [];
  #queueHead = 0;
  #waiters: (() => void)[] = [];
  #ended = false;
  #error: Error | undefined;

  /**
   * A watch of keys under `prefix` after `fromRevision`, which must not be older than
   * `window.floor`. `onEnd` is called once when the watch ends for any reason.
   */
  constructor(
    prefix: string,
    fromRevision: number,
    window: EventWindow,
    bufferSize: number,
    onEnd: (watch: KvWatch) => void,
  ) {
    this.#prefix = prefix;
    this.#window = window;
    this.#bufferSize = bufferSize;
    this.#onEnd = onEnd;
    this.#cursor = fromRevision;
    this.#liveFrom = Math.max(fromRevision, window.last);
  }

  /** Hands the watch a new event (one appended to the window after the watch started). */
  offer(event: StoreEvent): void {
    if (this.#ended || event.revision <= this.#liveFrom || !event.key.startsWith(this.#prefix)) {
      return;
    }
    if (this.#queue.length - this.#queueHead >= this.#bufferSize) {
      this.#fail(
        `Watch on '${this.#prefix}' fell behind: more than ${this.#bufferSize} events were waiting; relist and watch again`,
      );
      return;
    }
    this.#queue.push(event);
    this.#wake();
  }

  /** Ends the watch: with `error` thrown from the iterator, or as done. */
  end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    this.#queue = [];
    this.#queueHead = 0;
    this.#wake();
    this.#onEnd(this);
  }

  /** Stops the watch; a pending or later `next()` resolves done. */
  close(): void {
    this.end();
  }

  /** The next event (a copy), waiting for one when none is due. */
  async next(): Promise<IteratorResult<StoreEvent, undefined>> {
    while (true) {
      const event = this.#ended ? undefined : this.#take();
      if (event) {
        return {
          done: false,
          value: {
            type: event.type,
            key: event.key,
            revision: event.revision,
            object: cloneJson(event.object),
          },
        };
      }
      if (this.#error) {
        const error = this.#error;
        this.#error = undefined;
        throw error;
      }
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<StoreEvent, undefined> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  #take(): StoreEvent | undefined {
    while (this.#cursor < this.#liveFrom) {
      const event = this.#window.at(this.#cursor + 1);
      if (!event) {
        this.#fail(
          `Watch on '${this.#prefix}' fell behind: revision ${
            this.#cursor + 1
          } left the kept history; relist and watch again`,
        );
        return undefined;
      }
      this.#cursor++;
      if (event.key.startsWith(this.#prefix)) return event;
    }
    if (this.#queueHead === this.#queue.length) return undefined;
    const event = this.#queue[this.#queueHead++];
    if (this.#queueHead >= 1024 && this.#queueHead * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    return event;
  }

  #fail(message: string): void {
    this.end(new StoreError("Expired", this.#prefix, message));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

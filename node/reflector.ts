/**
 * `Reflector`: keeps a local copy of one collection in step with the API server by list +
 * watch, like client-go's reflector. A dropped watch resumes from the last resourceVersion it
 * saw; a 410 Expired relists; any other failure backs off and tries again. The control plane
 * being unreachable is an ordinary state, not an error: the copy simply stops changing.
 *
 * @module
 */

import type { KubeObject } from "../storage/object.ts";
import { type Clock, systemClock } from "../storage/clock.ts";
import { type ApiClient, WatchExpiredError } from "./api_client.ts";

/** Options of {@linkcode Reflector}. */
export interface ReflectorOptions {
  client: ApiClient;
  /** collection path, e.g. `/api/v1/pods` */
  path: string;
  /** extra list/watch query, e.g. `{ fieldSelector: "spec.nodeName=edge-1" }` */
  query?: Record<string, string>;
  /** called for every change to the local copy (also for each object of a relist) */
  onChange: (type: "ADDED" | "MODIFIED" | "DELETED", obj: KubeObject) => void;
  /** called after each successful (re)list */
  onSynced?: () => void;
  /** start watching from here instead of listing first (resume after an agent restart) */
  resumeFrom?: { resourceVersion: string; objects: KubeObject[] };
  clock?: Clock;
  /** first retry delay after a failure (doubles up to 30 s) */
  retryMs?: number;
}

function keyOf(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`;
}

/** A list+watch loop over one collection. */
export class Reflector {
  readonly #options: ReflectorOptions;
  readonly #clock: Clock;
  readonly #items = new Map<string, KubeObject>();
  readonly #abort = new AbortController();
  #resourceVersion = "";
  #connected = false;
  #lists = 0;
  #done: Promise<void> | undefined;

  constructor(options: ReflectorOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    if (options.resumeFrom) {
      this.#resourceVersion = options.resumeFrom.resourceVersion;
      for (const obj of options.resumeFrom.objects) this.#items.set(keyOf(obj), obj);
    }
  }

  /** The last resourceVersion seen (list or event); "" before the first list. */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  /** How many lists it has made: 0 while a resumed watch has never needed one. */
  get lists(): number {
    return this.#lists;
  }

  /** Whether the last list/watch attempt reached the server. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The current local copy. */
  items(): KubeObject[] {
    return [...this.#items.values()];
  }

  /** Start the loop in the background. */
  start(): void {
    this.#done ??= this.#run();
  }

  /** Stop watching; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let delay = this.#options.retryMs ?? 1000;
    while (!signal.aborted) {
      try {
        if (this.#resourceVersion === "") await this.#relist();
        for await (
          const ev of this.#options.client.watch(
            this.#options.path,
            { ...this.#options.query, resourceVersion: this.#resourceVersion },
            signal,
            () => (this.#connected = true),
          )
        ) {
          this.#connected = true;
          delay = this.#options.retryMs ?? 1000;
          if (ev.object.metadata?.resourceVersion) {
            this.#resourceVersion = ev.object.metadata.resourceVersion;
          }
          if (ev.type === "BOOKMARK" || ev.type === "ERROR") continue;
          const key = keyOf(ev.object);
          if (ev.type === "DELETED") this.#items.delete(key);
          else this.#items.set(key, ev.object);
          this.#options.onChange(ev.type, ev.object);
        }
      } catch (e) {
        if (signal.aborted) break;
        if (e instanceof WatchExpiredError) {
          this.#resourceVersion = "";
          continue;
        }
        this.#connected = false;
        await this.#clock.sleep(delay, signal);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  async #relist(): Promise<void> {
    const list = await this.#options.client.list(this.#options.path, this.#options.query ?? {});
    this.#lists++;
    this.#connected = true;
    const seen = new Set<string>();
    for (const obj of list.items) {
      const key = keyOf(obj);
      seen.add(key);
      const had = this.#items.has(key);
      this.#items.set(key, obj);
      this.#options.onChange(had ? "MODIFIED" : "ADDED", obj);
    }
    for (const [key, obj] of [...this.#items]) {
      if (seen.has(key)) continue;
      this.#items.delete(key);
      this.#options.onChange("DELETED", obj);
    }
    this.#resourceVersion = list.resourceVersion;
    this.#options.onSynced?.();
  }
}

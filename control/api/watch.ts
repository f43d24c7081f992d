/**
 * Watch responses in the Kubernetes wire format: a chunked `application/json` stream of
 * newline-delimited `{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": …}` events.
 *
 * @module
 */

import type { KubeObject } from "../../storage/object.ts";
import type { ApiError } from "../../storage/status.ts";
import type { Store, StoreEvent } from "../../storage/store.ts";
import { StoreError } from "../../storage/store.ts";

/** One event on the wire. */
export interface WireEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: unknown;
}

/** What a watch request asked for, already parsed. */
export interface WatchRequest {
  store: Store;
  prefix: string;
  /** deliver changes after this revision */
  fromRevision: number;
  /** objects to send as synthetic ADDED events first (state at `fromRevision`) */
  initial: KubeObject[];
  /** send a BOOKMARK marked `k8s.io/initial-events-end` after the initial events */
  initialEventsEnd: boolean;
  /**
   * label/field selector match and the keys matching it at a listed revision (to turn
   * MODIFIED into ADDED/DELETED); undefined = everything
   */
  selector?: Omit<SelectorState, "replayed">;
  allowBookmarks: boolean;
  /** bookmark interval in ms */
  bookmarkEveryMs: number;
  /** end the stream after this many ms */
  timeoutMs: number;
  /** the request's abort signal (client went away) */
  signal: AbortSignal;
  /** the `apiVersion`/`kind` of bookmark objects */
  apiVersion: string;
  kind: string;
  /** turn an object into what goes on the wire (e.g. a one-row Table) */
  render: (obj: KubeObject, first: boolean) => unknown;
  /** the Status for an expired watch */
  expired: (message: string) => ApiError;
}

/**
 * What a selector watch knows about which keys match: `keys` match at `revision` (the
 * listing it was made from). Events up to that revision are replays of changes the listing
 * already reflects, so for the first replayed event of a key `keys` says nothing about before
 * it: an ADDED key did not exist, and a modified or deleted one is taken to have matched when
 * it matches in the listing or in the event (exact for name and namespace selectors, which an
 * object never changes). `replayed` holds the keys whose first replay was seen.
 */
export interface SelectorState {
  matches: (obj: KubeObject) => boolean;
  keys: Set<string>;
  revision: number;
  replayed: Set<string>;
}

/** Decide the wire type of a store event under a selector, updating `state`. */
export function selectEvent(
  ev: StoreEvent,
  state: SelectorState | undefined,
): WireEvent["type"] | undefined {
  if (!state) return ev.type;
  const { matches, keys } = state;
  let was = keys.has(ev.key);
  if (ev.revision <= state.revision && !state.replayed.has(ev.key)) {
    state.replayed.add(ev.key);
    was = ev.type !== "ADDED" && (was || matches(ev.object));
  }
  const is = ev.type !== "DELETED" && matches(ev.object);
  if (is) {
    keys.add(ev.key);
    return was ? "MODIFIED" : "ADDED";
  }
  keys.delete(ev.key);
  return was ? "DELETED" : undefined;
}

/** A streaming body for a watch request. */
export function watchStream(req: WatchRequest): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let storeWatch: ReturnType<Store["watch"]> | undefined;
  let timers: ReturnType<typeof setTimeout>[] = [];
  let closed = false;
  let lastRevision = req.fromRevision;
  let first = true;
  const selector = req.selector ? { ...req.selector, replayed: new Set<string>() } : undefined;

  const cleanup = () => {
    closed = true;
    for (const t of timers) clearTimeout(t);
    timers = [];
    storeWatch?.close();
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (ev: WireEvent) => {
        if (closed) return;
        controller.enqueue(encoder.encode(JSON.stringify(ev) + "\n"));
      };
      const finish = () => {
        if (closed) return;
        cleanup();
        try {
          controller.close();
        } catch {
          // the consumer already cancelled
        }
      };
      const bookmark = (annotations?: Record<string, string>) => {
        send({
          type: "BOOKMARK",
          object: {
            apiVersion: req.apiVersion,
            kind: req.kind,
            metadata: {
              resourceVersion: String(lastRevision),
              ...(annotations ? { annotations } : {}),
            },
          },
        });
      };
      req.signal.addEventListener("abort", finish, { once: true });
      timers.push(setTimeout(finish, req.timeoutMs));
      if (req.allowBookmarks) {
        const tick = () => {
          if (closed) return;
          bookmark();
          timers.push(setTimeout(tick, req.bookmarkEveryMs));
        };
        timers.push(setTimeout(tick, req.bookmarkEveryMs));
      }

      for (const obj of req.initial) {
        send({ type: "ADDED", object: req.render(obj, first) });
        first = false;
      }
      if (req.initialEventsEnd) bookmark({ "k8s.io/initial-events-end": "true" });

      try {
        storeWatch = req.store.watch(req.prefix, req.fromRevision);
      } catch (e) {
        if (e instanceof StoreError && e.code === "Expired") {
          send({ type: "ERROR", object: req.expired(e.message).toStatus() });
          finish();
          return;
        }
        throw e;
      }
      const events = storeWatch;
      (async () => {
        try {
          for await (const ev of events) {
            if (closed) break;
            lastRevision = ev.revision;
            const type = selectEvent(ev, selector);
            if (!type) continue;
            send({ type, object: req.render(ev.object, first) });
            first = false;
          }
        } catch (e) {
          if (e instanceof StoreError && e.code === "Expired") {
            send({ type: "ERROR", object: req.expired(e.message).toStatus() });
          } else {
            console.error("watch stream failed:", e);
          }
        } finally {
          finish();
        }
      })();
    },
    cancel() {
      cleanup();
    },
  });
}

/**
 * Watch delivery latency: open `watchers` watch streams on the ConfigMaps of a namespace that
 * holds only the one ConfigMap this run creates, then
 * make `changes` updates one after another. Latency is the time from the update's response
 * to each watcher's receipt of the event with that resourceVersion (an event that arrives
 * before the response counts as 0 ms). Every wait is bounded. Each stream has its own
 * HTTP/1.1 connection.
 *
 * @module
 */

import { type Endpoint, httpRequest } from "../tests/_harness.ts";

/** What one watch run measured. */
export interface WatchResult {
  /** watch streams that opened */
  opened: number;
  /** events expected: opened × changes */
  expected: number;
  /** events received in time */
  received: number;
  latenciesMs: number[];
  /** the first problem seen, for the report */
  firstFailure?: string;
}

/** Options for {@linkcode benchWatch}. */
export interface WatchOptions {
  endpoint: Endpoint;
  namespace: string;
  watchers: number;
  changes: number;
  /** how long to wait for all watch streams to open */
  openTimeoutMs: number;
  /** how long to wait for one change to reach every watcher */
  deliveryTimeoutMs: number;
}

/** One open watch stream: records when each resourceVersion arrived. */
interface Watcher {
  arrivals: Map<string, number>;
  /** settles when the stream has ended (rejects if it carried something unparseable) */
  done: Promise<void>;
  /** cancels the stream */
  close(): void;
}

function openWatcher(response: Response, onArrival: () => void): Watcher {
  const arrivals = new Map<string, number>();
  if (!response.body) throw new Error("watch response has no body");
  // An explicit reader, because aborting the request does not always end a pending read.
  const reader = response.body.getReader();
  const done = (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      const now = performance.now();
      pending += decoder.decode(value, { stream: true });
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        newline = pending.indexOf("\n");
        if (line === "") continue;
        const event = JSON.parse(line) as {
          type?: string;
          object?: { metadata?: { resourceVersion?: string } };
        };
        const rv = event.object?.metadata?.resourceVersion;
        if (event.type === "MODIFIED" && rv !== undefined) {
          arrivals.set(rv, now);
          onArrival();
        }
      }
    }
  })();
  return {
    arrivals,
    done,
    close() {
      reader.cancel().catch(() => {});
    },
  };
}

/** Runs one watch level and closes every stream before returning. */
export async function benchWatch(options: WatchOptions): Promise<WatchResult> {
  const { endpoint, namespace, watchers, changes } = options;
  const result: WatchResult = { opened: 0, expected: 0, received: 0, latenciesMs: [] };
  const base = `/api/v1/namespaces/${namespace}/configmaps`;
  const name = `watched-${watchers}`;

  const created = await httpRequest(endpoint, "POST", base, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name },
    data: { n: "0" },
  });
  if (created.status !== 201) {
    result.firstFailure = `POST ${base} -> ${created.status} ${created.text.slice(0, 300)}`;
    return result;
  }
  const startRv = (created.json as { metadata: { resourceVersion: string } }).metadata
    .resourceVersion;

  const abort = new AbortController();
  let arrivalCount = 0;
  let wake: () => void = () => {};
  const onArrival = () => {
    arrivalCount++;
    wake();
  };
  const waitFor = (target: number, timeoutMs: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        wake = () => {};
        resolve(ok);
      };
      wake = () => {
        if (arrivalCount >= target) finish(true);
      };
      wake();
    });

  // HTTP/1.1, one connection per stream: over HTTP/2 all streams would share one connection,
  // whose concurrent-stream limit (200 in Deno.serve) would queue the rest.
  const watchClient = Deno.createHttpClient({
    http1: true,
    http2: false,
    ...(endpoint.caPem ? { caCerts: [endpoint.caPem] } : {}),
  });
  const streams: Watcher[] = [];
  try {
    const watchPath = `${base}?watch=1&resourceVersion=${startRv}`;
    let openTimedOut = false;
    const openTimer = setTimeout(() => {
      openTimedOut = true;
      abort.abort();
    }, options.openTimeoutMs);
    const opening = Array.from({ length: watchers }, async () => {
      const response = await fetch(endpoint.url + watchPath, {
        headers: { authorization: `Bearer ${endpoint.token}` },
        signal: abort.signal,
        client: watchClient,
      });
      if (response.status !== 200) {
        result.firstFailure ??= `GET ${watchPath} -> ${response.status} ${
          (await response.text()).slice(0, 300)
        }`;
        return;
      }
      streams.push(openWatcher(response, onArrival));
    });
    const opened = await Promise.allSettled(opening);
    clearTimeout(openTimer);
    if (openTimedOut) {
      result.firstFailure ??=
        `${streams.length} of ${watchers} watch streams opened within ${options.openTimeoutMs} ms`;
      return result;
    }
    const rejected = opened.find((o) => o.status === "rejected");
    if (rejected?.status === "rejected") {
      result.firstFailure ??= `opening watch streams: ${rejected.reason}`;
    }
    result.opened = streams.length;
    if (streams.length === 0) return result;

    const writes: { rv: string; at: number }[] = [];
    for (let i = 1; i <= changes; i++) {
      const target = arrivalCount + streams.length;
      const response = await httpRequest(
        endpoint,
        "PATCH",
        `${base}/${name}`,
        { data: { n: String(i) } },
        { "content-type": "application/merge-patch+json" },
      );
      const at = performance.now();
      if (response.status !== 200) {
        result.firstFailure ??= `PATCH ${base}/${name} -> ${response.status} ${
          response.text.slice(0, 300)
        }`;
        break;
      }
      const rv = (response.json as { metadata: { resourceVersion: string } }).metadata
        .resourceVersion;
      writes.push({ rv, at });
      if (!await waitFor(target, options.deliveryTimeoutMs)) {
        result.firstFailure ??= `change ${i} reached ${
          streams.length - (target - arrivalCount)
        } of ${streams.length} watchers within ${options.deliveryTimeoutMs} ms`;
      }
    }

    result.expected = writes.length * streams.length;
    for (const stream of streams) {
      for (const write of writes) {
        const arrived = stream.arrivals.get(write.rv);
        if (arrived === undefined) continue;
        result.received++;
        result.latenciesMs.push(Math.max(0, arrived - write.at));
      }
    }
  } finally {
    abort.abort();
    for (const stream of streams) stream.close();
    const closed = await Promise.allSettled(streams.map((s) => s.done));
    watchClient.close();
    const failure = closed.find((c) => c.status === "rejected");
    if (failure?.status === "rejected") result.firstFailure ??= `watch stream: ${failure.reason}`;
  }
  return result;
}

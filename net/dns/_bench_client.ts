/**
 * The client half of the DNS benchmark, run as a worker by `bench_dns.ts`: keeps `concurrency`
 * A queries in flight over UDP against 127.0.0.1:`port` until `total` are sent or the time
 * limit passes, then posts the counts back and closes.
 *
 * @module
 */

import { createSocket } from "node:dgram";
import { encodeMessage, RECURSION_DESIRED } from "./_packet.ts";

/** What the benchmark asks of the client. */
export interface BenchClientJob {
  port: number;
  /** names to ask A for, in turn */
  names: string[];
  total: number;
  concurrency: number;
  timeLimitMs: number;
  queryTimeoutMs: number;
}

/** What the client counted. */
export interface BenchClientResult {
  /** NOERROR with at least one answer */
  answered: number;
  /** no answer in time, or another answer */
  failed: number;
  /** from the first query sent to the last answer */
  seconds: number;
}

/** Run one job; see the module documentation. */
export async function runBenchClient(job: BenchClientJob): Promise<BenchClientResult> {
  const templates = job.names.map((name) =>
    encodeMessage({
      type: "query",
      id: 0,
      flags: RECURSION_DESIRED,
      questions: [{ type: "A", name, class: "IN" }],
    })
  );
  const socket = createSocket({ type: "udp4" });
  const pending = new Map<number, (ok: boolean) => void>();
  socket.on("message", (msg: Uint8Array) => {
    const settle = pending.get((msg[0]! << 8) | msg[1]!);
    settle?.((msg[3]! & 0x0f) === 0 && ((msg[6]! << 8) | msg[7]!) > 0);
  });
  let sent = 0;
  let answered = 0;
  let failed = 0;
  const started = performance.now();
  const deadline = started + job.timeLimitMs;
  const loop = async () => {
    while (sent < job.total && performance.now() < deadline) {
      const seq = sent++;
      const id = seq & 0xffff;
      const query = templates[seq % templates.length]!.slice();
      query[0] = id >> 8;
      query[1] = id & 0xff;
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), job.queryTimeoutMs);
        pending.set(id, (result) => {
          clearTimeout(timer);
          resolve(result);
        });
        socket.send(query, job.port, "127.0.0.1");
      });
      pending.delete(id);
      if (ok) answered++;
      else failed++;
    }
  };
  try {
    await Promise.all(Array.from({ length: job.concurrency }, loop));
  } finally {
    socket.close();
  }
  return { answered, failed, seconds: (performance.now() - started) / 1000 };
}

// as a worker: one job in, one result out
if ("WorkerGlobalScope" in globalThis) {
  const scope = self as unknown as {
    onmessage: ((ev: MessageEvent<BenchClientJob>) => void) | null;
    postMessage(result: BenchClientResult): void;
    close(): void;
  };
  scope.onmessage = async (ev) => {
    scope.postMessage(await runBenchClient(ev.data));
    scope.close();
  };
}

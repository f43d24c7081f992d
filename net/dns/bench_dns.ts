/**
 * DNS benchmark: queries per second a {@linkcode ClusterDnsServer} answers over UDP on
 * 127.0.0.1, with 1,000 services in its zone, from one client (in a worker, so client and
 * server do not share a thread) keeping 32 queries in flight. Bounded in count (20,000 queries)
 * and time (10 s) by default.
 *
 * `deno run --allow-all net/dns/bench_dns.ts` prints one line.
 *
 * @module
 */

import { ServiceSchema } from "../../storage/kinds/service.ts";
import type { BenchClientJob, BenchClientResult } from "./_bench_client.ts";
import { ClusterRecords } from "./records.ts";
import { ClusterDnsServer } from "./server.ts";

/** Options of {@linkcode benchDns}. */
export interface DnsBenchOptions {
  /** services in the zone (default 1,000) */
  services?: number;
  /** queries to send (default 20,000) */
  queries?: number;
  /** queries in flight (default 32) */
  concurrency?: number;
  /** stop sending after this long (default 10,000 ms) */
  timeLimitMs?: number;
  /** a query without an answer for this long counts as failed (default 1,000 ms) */
  queryTimeoutMs?: number;
}

/** What {@linkcode benchDns} measured. */
export interface DnsBenchResult {
  services: number;
  concurrency: number;
  /** queries answered NOERROR with an answer */
  answered: number;
  /** queries unanswered in time, or answered otherwise */
  failed: number;
  seconds: number;
  /** answered queries per second */
  qps: number;
}

/** Start a server with `services` ClusterIP services, query it, stop it; see the module docs. */
export async function benchDns(options: DnsBenchOptions = {}): Promise<DnsBenchResult> {
  const count = options.services ?? 1000;
  const total = options.queries ?? 20_000;
  const concurrency = options.concurrency ?? 32;
  const timeLimitMs = options.timeLimitMs ?? 10_000;
  const queryTimeoutMs = options.queryTimeoutMs ?? 1000;

  const records = new ClusterRecords();
  records.setSnapshot({
    services: Array.from({ length: count }, (_, i) =>
      ServiceSchema.parse({
        apiVersion: "v1",
        kind: "Service",
        metadata: { namespace: "bench", name: `svc-${i}` },
        spec: {
          clusterIP: `10.96.${16 + ((i >> 8) & 0xff)}.${i & 0xff}`,
          ports: [{ name: "http", port: 80 }],
        },
      })),
    endpoints: [],
  });
  const server = new ClusterDnsServer({ records, hostname: "127.0.0.1", port: 0 });
  await server.start();
  // the client runs in a worker, so the server has this thread to itself
  const worker = new Worker(new URL("./_bench_client.ts", import.meta.url), { type: "module" });
  let counts: BenchClientResult;
  try {
    counts = await new Promise<BenchClientResult>((resolve, reject) => {
      worker.onmessage = (ev: MessageEvent<BenchClientResult>) => resolve(ev.data);
      worker.onerror = (ev) => {
        ev.preventDefault();
        reject(new Error(`DNS benchmark client failed: ${ev.message}`));
      };
      const job: BenchClientJob = {
        port: server.address.port,
        names: Array.from({ length: count }, (_, i) => `svc-${i}.bench.svc.cluster.local`),
        total,
        concurrency,
        timeLimitMs,
        queryTimeoutMs,
      };
      worker.postMessage(job);
    });
  } finally {
    worker.terminate();
    await server.stop();
  }
  const { answered, failed, seconds } = counts;
  return { services: count, concurrency, answered, failed, seconds, qps: answered / seconds };
}

if (import.meta.main) {
  const r = await benchDns();
  console.log(
    `DNS over UDP, ${r.services} services, ${r.concurrency} in flight: ${r.answered} answered` +
      ` (${r.failed} failed) in ${r.seconds.toFixed(2)} s = ${Math.round(r.qps)} queries/s`,
  );
}

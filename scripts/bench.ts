/**
 * The benchmark (`deno task bench`, or `deno task bench --quick` for a smoke run).
 *
 * Starts `mod.ts up` on a fresh temp data dir at 127.0.0.1 (ephemeral port) and prints one
 * markdown table:
 * - RSS of the idle server (VmRSS from /proc after start-up and a settle pause), and again
 *   after the load below;
 * - ConfigMap create throughput and p50/p99 latency at 1, 10 and 50 concurrent clients;
 * - watch delivery latency p50/p99 with 100 and 1000 concurrent watch streams.
 *
 * All traffic goes to 127.0.0.1; every load loop is bounded in count and in time. The client
 * runs on the same machine as the server, so both share its cores.
 *
 * @module
 */

import { type Cluster, startCluster } from "../tests/_harness.ts";
import { benchCreate } from "./_bench_create.ts";
import { benchWatch } from "./_bench_watch.ts";
import { formatMs, markdownTable, percentile, type Row } from "./_bench_stats.ts";

interface Plan {
  settleMs: number;
  createLevels: number[];
  createCount: number;
  createMaxMs: number;
  watchLevels: number[];
  watchChanges: number;
}

const FULL: Plan = {
  settleMs: 3_000,
  createLevels: [1, 10, 50],
  createCount: 2_000,
  createMaxMs: 20_000,
  watchLevels: [100, 1_000],
  watchChanges: 20,
};

const QUICK: Plan = {
  settleMs: 500,
  createLevels: [1, 10, 50],
  createCount: 200,
  createMaxMs: 5_000,
  watchLevels: [10, 100],
  watchChanges: 3,
};

/** VmRSS of a process in MiB, from /proc/PID/status. */
async function rssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no VmRSS line`);
  return Number(match[1]) / 1024;
}

/** Creates a namespace for one benchmark, so runs do not see each other's objects. */
async function createNamespace(cluster: Cluster, name: string): Promise<void> {
  const response = await cluster.request("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name },
  });
  if (response.status !== 201) {
    throw new Error(`POST /api/v1/namespaces ${name} -> ${response.status} ${response.text}`);
  }
}

function log(message: string): void {
  console.error(`bench: ${message}`);
}

async function main(args: string[]): Promise<void> {
  const quick = args.includes("--quick");
  const plan = quick ? QUICK : FULL;
  const rows: Row[] = [];
  const notes: string[] = [];

  log("starting mod.ts up on 127.0.0.1:0");
  await using cluster = await startCluster();
  try {
    await measure(cluster, plan, rows, notes);
  } catch (error) {
    const { stderr } = cluster.logs();
    throw new Error(
      `benchmark failed: ${error}\n--- server stderr (tail) ---\n${stderr.slice(-4000)}`,
    );
  }

  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  console.log(
    `## edge benchmark${quick ? " (quick)" : ""}\n\n` +
      `${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ` +
      `${Deno.build.os}/${Deno.build.arch}, ${date}. Client and server on the same machine, ` +
      `traffic over 127.0.0.1.\n`,
  );
  console.log(markdownTable(rows));
  if (notes.length > 0) console.log(`\nProblems seen:\n${notes.map((n) => `- ${n}`).join("\n")}`);
}

/** Runs every measurement in order, appending table rows and notes. */
async function measure(cluster: Cluster, plan: Plan, rows: Row[], notes: string[]): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, plan.settleMs));
  rows.push({
    benchmark: "RSS, idle `up`",
    setting: `${plan.settleMs / 1000} s after ready`,
    result: `${(await rssMiB(cluster.pid)).toFixed(1)} MiB`,
    p50: "",
    p99: "",
  });

  for (const clients of plan.createLevels) {
    const namespace = `bench-create-${clients}`;
    await createNamespace(cluster, namespace);
    log(`create: ${clients} client(s), up to ${plan.createCount} ConfigMaps`);
    const r = await benchCreate({
      endpoint: cluster.endpoint,
      namespace,
      clients,
      count: plan.createCount,
      maxMs: plan.createMaxMs,
    });
    if (r.firstFailure) {
      notes.push(`create ×${clients}: ${r.failed} failed; first: ${r.firstFailure}`);
    }
    rows.push({
      benchmark: "create ConfigMap",
      setting: `${clients} client${clients === 1 ? "" : "s"}`,
      result: `${Math.round(r.created / (r.elapsedMs / 1000))} /s (${r.created} in ${
        (r.elapsedMs / 1000).toFixed(1)
      } s)`,
      p50: formatMs(percentile(r.latenciesMs, 50)),
      p99: formatMs(percentile(r.latenciesMs, 99)),
    });
  }

  for (const watchers of plan.watchLevels) {
    const namespace = `bench-watch-${watchers}`;
    await createNamespace(cluster, namespace);
    log(`watch: ${watchers} watchers, ${plan.watchChanges} changes`);
    const r = await benchWatch({
      endpoint: cluster.endpoint,
      namespace,
      watchers,
      changes: plan.watchChanges,
      openTimeoutMs: 30_000,
      deliveryTimeoutMs: 10_000,
    });
    if (r.firstFailure) notes.push(`watch ×${watchers}: ${r.firstFailure}`);
    rows.push({
      benchmark: "watch delivery",
      setting: `${r.opened}/${watchers} watchers, ${plan.watchChanges} changes`,
      result: `${r.received}/${r.expected} events delivered`,
      p50: formatMs(percentile(r.latenciesMs, 50)),
      p99: formatMs(percentile(r.latenciesMs, 99)),
    });
  }

  rows.push({
    benchmark: "RSS after the load above",
    setting: "",
    result: `${(await rssMiB(cluster.pid)).toFixed(1)} MiB`,
    p50: "",
    p99: "",
  });
}

if (import.meta.main) {
  await main(Deno.args);
}

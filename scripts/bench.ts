/**
 * The benchmark (`deno task bench`, or `deno task bench --quick` for a smoke run; `--only=pods`
 * or a comma-separated list of `sched`, `scale`, `pods`, `create`, `watch`, `storage`, `agent`,
 * `net` runs just those).
 *
 * Prints one markdown table:
 * - scheduler throughput (placement logic only, simulated nodes) at 100 and 1000 nodes, in a
 *   fresh Deno process, before any cluster runs;
 * - the controllers (scheduler, ReplicaSet/Deployment and the rest, a fake kubelet on
 *   simulated nodes; fresh Deno processes too): `PATCH …/scale` 0→50 until 50 available on 10
 *   nodes, and the CPU time and store writes of the idle controllers over 1000 pods;
 * - on `mod.ts up` (fresh temp data dir, 127.0.0.1, ephemeral port): RSS of the idle process;
 *   pod start latency (POST → watch shows both containers running) side by side with raw
 *   podman and `podman kube play` starting the same pod; ConfigMap create throughput and
 *   p50/p99 latency at 1, 10 and 50 concurrent clients; watch delivery latency p50/p99 with
 *   100 and 1000 concurrent watch streams; a Deployment of the test image scaled 0→10 until
 *   10 are available; RSS again after all that;
 * - storage: the PersistentVolume binder alone (fresh Deno process, store in a temp file, the
 *   real ControllerManager, no podman): 500 claims onto 500 static hostPath PVs until all are
 *   Bound, claims/s and store writes per claim; then on a fresh `mod.ts up`: pod start latency
 *   with no volume, an emptyDir, and a new claim of its own on the default `local-path` class
 *   (claim and pod POSTed together; the scheduler picks the node, the agent provisions, the
 *   binder binds), and for those claims (pods deleted first) `DELETE` of the claim → the
 *   volume's directory gone from the disk and its PV gone;
 * - on `mod.ts server` plus a separate `mod.ts agent` process: the agent's RSS idle (3 s after
 *   Ready, then the median and highest of one sample a second for two minutes more), the same
 *   pod starts through that agent, and the agent's RSS after them;
 * - networking: nftables programming of one service change with 1,000 and 10,000 services
 *   present and a full sync of 10,000 × 5 (in a network namespace of its own), cluster DNS
 *   queries/s over UDP on 127.0.0.1, and on `server` + 3 agents in network namespaces the time
 *   from an Endpoints change to every node's rules.
 *
 * All traffic goes to 127.0.0.1 or into network namespaces the run makes; every load loop is
 * bounded in count and in time. The client runs on the same machine as the server, so both
 * share its cores. Every podman pod the run creates is removed at the end, also when it fails.
 *
 * @module
 */

import { type Cluster, httpRequest, sleep, startCluster } from "../tests/_harness.ts";
import { benchCreate, benchRead } from "./_bench_create.ts";
import {
  type AgentProcess,
  apiStart,
  benchPodStarts,
  IMAGE,
  kubePlayStart,
  Podman,
  rawPodmanStart,
  startAgentProcess,
  type StartResult,
  waitNodeReady,
} from "./_bench_pods.ts";
import { benchIdleControllers, benchScaleOnCluster, benchScaleSimulated } from "./_bench_scale.ts";
import { benchSchedule } from "./_bench_sched.ts";
import { benchWatch } from "./_bench_watch.ts";
import { benchNetUnits, benchPropagation, type NetPlan } from "./_bench_net.ts";
import {
  benchBinder,
  benchClaimDeletes,
  binderRow,
  claimDeleteRow,
  type StoragePlan,
  volumeStart,
  volumeStartRows,
} from "./_bench_storage.ts";
import { formatMs, markdownTable, percentile, type Row } from "./_bench_stats.ts";
import { cleanupNode } from "../node/cleanup.ts";
import { LABELS } from "../node/runtime.ts";

/** The parts of the run `--only=` can pick. */
const PARTS = ["sched", "scale", "pods", "create", "watch", "storage", "agent", "net"] as const;
type Part = typeof PARTS[number];

interface Plan {
  settleMs: number;
  createLevels: number[];
  createCount: number;
  createMaxMs: number;
  /** sequential GETs of one object */
  readCount: number;
  watchLevels: number[];
  watchChanges: number;
  /** measured pod starts per method, after `podWarmup` unmeasured ones */
  podStarts: number;
  podWarmup: number;
  /** bound on all pod starts of one cluster */
  podStartsMaxMs: number;
  /** simulated node counts, and pods scheduled onto them per run */
  scheduleNodes: number[];
  schedulePods: number;
  scheduleRuns: number;
  /** simulated nodes and replicas of the simulated scale-up, and its measured runs */
  scaleNodes: number;
  scaleReplicas: number;
  scaleRuns: number;
  /** simulated nodes and pods the idle controllers watch over, and the measured window */
  idleNodes: number;
  idlePods: number;
  idleSeconds: number;
  /** how long the idle agent's RSS is sampled (once a second) after the settle time */
  agentIdleSeconds: number;
  /** the same for the agent sharing its executable with the server and once its pods are gone */
  agentShortIdleSeconds: number;
  /** the same for `up` */
  upIdleSeconds: number;
  /** replicas of the scale-up on `up` (real podman), and its runs */
  upScaleReplicas: number;
  upScaleRuns: number;
  /** the service proxy, DNS and propagation figures */
  net: NetPlan;
  /** the binder, the pod starts with volumes and the claim deletions */
  storage: StoragePlan;
  /** the parts to run */
  parts: ReadonlySet<Part>;
}

const FULL: Plan = {
  settleMs: 3_000,
  createLevels: [1, 10, 50],
  createCount: 2_000,
  createMaxMs: 20_000,
  readCount: 500,
  watchLevels: [100, 1_000],
  watchChanges: 20,
  podStarts: 20,
  podWarmup: 1,
  podStartsMaxMs: 600_000,
  scheduleNodes: [100, 1_000],
  schedulePods: 1_000,
  scheduleRuns: 3,
  scaleNodes: 10,
  scaleReplicas: 50,
  scaleRuns: 5,
  idleNodes: 20,
  idlePods: 1_000,
  idleSeconds: 10,
  agentIdleSeconds: 120,
  agentShortIdleSeconds: 30,
  upIdleSeconds: 20,
  upScaleReplicas: 10,
  upScaleRuns: 2,
  net: {
    proxySizes: [1_000, 10_000],
    proxyRepeat: 5,
    dnsServices: 1_000,
    dnsQueries: 20_000,
    propagationRuns: 20,
  },
  storage: {
    podStarts: 8,
    podWarmup: 1,
    podStartsMaxMs: 150_000,
    binderVolumes: 500,
    binderClaims: 500,
  },
  parts: new Set(PARTS),
};

const QUICK: Plan = {
  settleMs: 500,
  createLevels: [1, 10, 50],
  createCount: 200,
  createMaxMs: 5_000,
  readCount: 50,
  watchLevels: [10, 100],
  watchChanges: 3,
  podStarts: 3,
  podWarmup: 1,
  podStartsMaxMs: 120_000,
  scheduleNodes: [100, 1_000],
  schedulePods: 200,
  scheduleRuns: 1,
  scaleNodes: 10,
  scaleReplicas: 50,
  scaleRuns: 1,
  idleNodes: 4,
  idlePods: 200,
  idleSeconds: 2,
  agentIdleSeconds: 3,
  agentShortIdleSeconds: 2,
  upIdleSeconds: 2,
  upScaleReplicas: 3,
  upScaleRuns: 1,
  net: {
    proxySizes: [100, 1_000],
    proxyRepeat: 1,
    dnsServices: 100,
    dnsQueries: 1_000,
    propagationRuns: 3,
  },
  storage: {
    podStarts: 3,
    podWarmup: 1,
    podStartsMaxMs: 60_000,
    binderVolumes: 50,
    binderClaims: 50,
  },
  parts: new Set(PARTS),
};

/** Bound on one pod start, and on one pod's clean-up. */
const POD_TIMEOUT_MS = 60_000;
/** Namespace of the benchmark's pods. */
const POD_NAMESPACE = "bench-pods";
/** Namespace of the storage benchmark's pods and claims. */
const STORAGE_NAMESPACE = "bench-storage";
/** Namespace of the scale benchmark's Deployments on `up`. */
const SCALE_NAMESPACE = "bench-scale";

/** VmRSS, RssAnon and RssFile of a process in MiB, from /proc/PID/status. */
async function memoryMiB(pid: number): Promise<{ rss: number; anon: number; file: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${name} line`);
    return Number(match[1]) / 1024;
  };
  return { rss: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile") };
}

async function rssMiB(pid: number): Promise<number> {
  return (await memoryMiB(pid)).rss;
}

function rssRow(benchmark: string, setting: string, mib: number): Row {
  return { benchmark, setting, result: `${mib.toFixed(1)} MiB`, p50: "", p99: "" };
}

/**
 * An idle process's RSS, read once a second for `seconds`: the median and the highest, with the
 * split of the last reading into its own memory (RssAnon) and pages of files (RssFile, mostly the
 * deno executable). RSS moves: Lease renewals fault pages in, V8's occasional major GC gives
 * memory back, and the agent pages out its start-up pages 2 s after it is ready.
 */
async function idleRssRow(
  benchmark: string,
  pid: number,
  seconds: number,
  from: string,
): Promise<Row> {
  const samples: number[] = [];
  let last = await memoryMiB(pid);
  for (let i = 0; i < seconds; i++) {
    await sleep(1_000);
    last = await memoryMiB(pid);
    samples.push(last.rss);
  }
  return {
    benchmark,
    setting: `every 1 s for ${seconds} s, from ${from}`,
    result: `median ${percentile(samples, 50).toFixed(1)} MiB, max ${
      Math.max(...samples).toFixed(1)
    } MiB (last: anon ${last.anon.toFixed(1)}, file ${last.file.toFixed(1)})`,
    p50: "",
    p99: "",
  };
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

/** What every part of the run shares: the table, the problems seen, podman and names. */
interface Run {
  plan: Plan;
  rows: Row[];
  notes: string[];
  podman: Podman;
  /** scratch directory (containers.conf, kube play manifests) */
  dir: string;
  /** every benchmark pod name starts with this */
  prefix: string;
  /** nodes whose agents ran benchmark pods (their sandboxes carry the node label) */
  nodes: Set<string>;
}

async function main(args: string[]): Promise<void> {
  const quick = args.includes("--quick");
  const plan = { ...(quick ? QUICK : FULL), parts: partsOf(args) };
  const dir = await Deno.makeTempDir({ prefix: "edge-bench-" });
  const id = crypto.randomUUID().slice(0, 8);
  const run: Run = {
    plan,
    rows: [],
    notes: [],
    podman: await Podman.inDir(dir),
    dir,
    prefix: `edgebench-${id}`,
    nodes: new Set(),
  };
  try {
    if (plan.parts.has("sched")) await measureScheduler(run);
    if (plan.parts.has("scale")) await measureControllers(run);
    if (["pods", "scale", "create", "watch"].some((p) => plan.parts.has(p as Part))) {
      await measureUp(run);
    }
    if (plan.parts.has("storage")) await measureStorage(run);
    if (plan.parts.has("agent")) await measureAgent(run, `bench-${id}`);
    if (plan.parts.has("net")) {
      run.rows.push(...await benchNetUnits(plan.net, log));
      run.rows.push(...await benchPropagation(plan.net, log));
    }
  } finally {
    await cleanUp(run);
  }

  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  console.log(
    `## edge benchmark${quick ? " (quick)" : ""}\n\n` +
      `${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ` +
      `${Deno.build.os}/${Deno.build.arch}, ${date}. Client and server on the same machine, ` +
      `traffic over 127.0.0.1.\n`,
  );
  console.log(markdownTable(run.rows));
  if (run.notes.length > 0) {
    console.log(`\nProblems seen:\n${run.notes.map((n) => `- ${n}`).join("\n")}`);
  }
}

/** The parts named by `--only=a,b`, or all of them. */
function partsOf(args: string[]): Set<Part> {
  const only = args.find((a) => a.startsWith("--only="));
  if (!only) return new Set(PARTS);
  const names = only.slice("--only=".length).split(",");
  const unknown = names.filter((n) => !(PARTS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new Error(`Cannot run the benchmark: unknown part ${unknown.join(", ")} in ${only}`);
  }
  return new Set(names as Part[]);
}

/** Removes every podman pod this run may have left behind, and the scratch directory. */
async function cleanUp(run: Run): Promise<void> {
  const filters = [
    `name=^${run.prefix}-`,
    ...[...run.nodes].map((node) => `label=${LABELS.node}=${node}`),
  ];
  for (const filter of filters) {
    try {
      const removed = await run.podman.removePods(filter);
      if (removed > 0) log(`clean-up: removed ${removed} podman pod(s) matching ${filter}`);
    } catch (error) {
      console.error(`bench: clean-up of podman pods matching ${filter} failed: ${error}`);
    }
  }
  for (const node of run.nodes) {
    try {
      const removed = await run.podman.removeNetworks(`label=${LABELS.node}=${node}`);
      if (removed > 0) log(`clean-up: removed ${removed} podman network(s) of node ${node}`);
    } catch (error) {
      console.error(`bench: clean-up of the podman networks of ${node} failed: ${error}`);
    }
  }
  if (run.plan.parts.has("pods")) {
    // kube play makes this network on first use; without --force, podman keeps it while
    // anything (not ours) still uses it, and kube play makes it again when needed
    try {
      await run.podman.ok(["network", "rm", "podman-default-kube-network"]);
      log("clean-up: removed podman network podman-default-kube-network");
    } catch {
      // absent, or in use
    }
  }
  await Deno.remove(run.dir, { recursive: true });
}

/** Rethrows `error` with the tail of the server's stderr, which usually says why. */
function withServerLog(cluster: Cluster, error: unknown): Error {
  return new Error(
    `benchmark failed: ${error}\n--- server stderr (tail) ---\n${
      cluster.logs().stderr.slice(-4000)
    }`,
  );
}

/** Scheduler throughput (placement only) at each simulated cluster size. */
async function measureScheduler(run: Run): Promise<void> {
  const { plan } = run;
  for (const nodes of plan.scheduleNodes) {
    log(
      `scheduler: ${plan.schedulePods} pods onto ${nodes} simulated nodes, ${plan.scheduleRuns} run(s)`,
    );
    const r = await benchSchedule(nodes, plan.schedulePods, plan.scheduleRuns, 120_000);
    const sorted = [...r.podsPerSecond].sort((a, b) => a - b);
    const spread = sorted.length > 1
      ? `, median of ${sorted.length} runs (${Math.round(sorted[0]!)}–${
        Math.round(sorted[sorted.length - 1]!)
      })`
      : "";
    run.rows.push({
      benchmark: "schedule (placement only)",
      setting: `${nodes} nodes, ${plan.schedulePods} pods`,
      result: `${Math.round(percentile(sorted, 50))} pods/s${spread}`,
      p50: "",
      p99: "",
    });
  }
}

/** `208–237 ms` — the range of `samples`, rounded. */
function msRange(samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const [low, high] = [Math.round(sorted[0] ?? NaN), Math.round(sorted.at(-1) ?? NaN)];
  return low === high ? `${low} ms` : `${low}–${high} ms`;
}

/** What a benchmark child process logged: a problem worth a note (controllers log errors). */
function childLogNote(what: string, stderr: string, run: Run): void {
  const lines = stderr.split("\n").filter((line) => line.trim() !== "");
  if (lines.length > 0) {
    run.notes.push(`${what} logged ${lines.length} line(s); first: ${lines[0]!.slice(0, 300)}`);
  }
}

/**
 * The controllers with a fake kubelet on simulated nodes (fresh Deno processes): scale-up
 * time, then CPU time and store writes while idle.
 */
async function measureControllers(run: Run): Promise<void> {
  const { plan, rows } = run;
  log(
    `controllers: scale 0→${plan.scaleReplicas} on ${plan.scaleNodes} simulated nodes, ` +
      `${plan.scaleRuns} run(s)`,
  );
  const scale = await benchScaleSimulated(
    plan.scaleNodes,
    plan.scaleReplicas,
    plan.scaleRuns,
    120_000,
  );
  childLogNote("simulated scale-up", scale.stderr, run);
  const writes = Math.round(percentile(scale.writes, 50));
  rows.push({
    benchmark: `scale 0→${plan.scaleReplicas}, simulated`,
    setting: `${plan.scaleNodes} nodes, fake kubelet`,
    result: `p50 of ${scale.runsMs.length} run${scale.runsMs.length === 1 ? "" : "s"} (${
      msRange(scale.runsMs)
    }); ${writes} store writes each`,
    p50: formatMs(percentile(scale.runsMs, 50)),
    p99: "",
  });

  log(
    `controllers: idle over ${plan.idlePods} simulated pods on ${plan.idleNodes} nodes, ` +
      `${plan.idleSeconds} s`,
  );
  const idle = await benchIdleControllers(
    plan.idleNodes,
    plan.idlePods,
    plan.idleSeconds,
    300_000,
  );
  childLogNote("idle controllers", idle.stderr, run);
  if (idle.writes > 0) {
    run.notes.push(`idle controllers wrote ${idle.writes} time(s): ${idle.writtenKeys.join(", ")}`);
  }
  rows.push({
    benchmark: "idle controllers",
    setting: `${idle.pods} pods on ${idle.nodes} nodes, ${plan.idleSeconds} s`,
    result: `${(idle.cpuMs / (idle.windowMs / 1000)).toFixed(1)} CPU ms/s, ${idle.writes} ` +
      `writes (+${idle.leaseRenewals} Lease renewals)`,
    p50: "",
    p99: "",
  });
}

/** A Deployment of the test image scaled 0→N on `up`, until N are available (real podman). */
async function measureScaleOnUp(cluster: Cluster, run: Run): Promise<void> {
  const { plan } = run;
  await waitNodeReady(cluster.endpoint, cluster.nodeName, POD_TIMEOUT_MS);
  await createNamespace(cluster, SCALE_NAMESPACE);
  log(`scale: 0→${plan.upScaleReplicas} replicas on up, ${plan.upScaleRuns} run(s)`);
  const samples: number[] = [];
  for (let i = 0; i < plan.upScaleRuns; i++) {
    samples.push(
      await benchScaleOnCluster({
        endpoint: cluster.endpoint,
        namespace: SCALE_NAMESPACE,
        name: `${run.prefix}-scale-${i}`,
        replicas: plan.upScaleReplicas,
        podSpec: {
          terminationGracePeriodSeconds: 0,
          containers: [{
            name: "main",
            image: IMAGE,
            imagePullPolicy: "Never",
            command: ["sleep", "3600"],
          }],
        },
        timeoutMs: POD_TIMEOUT_MS,
        waitPodsGone: async (uids) => {
          for (const uid of uids) {
            await run.podman.waitGone(`label=${LABELS.podUid}=${uid}`, POD_TIMEOUT_MS);
          }
        },
      }),
    );
  }
  run.rows.push({
    benchmark: `scale 0→${plan.upScaleReplicas}, \`up\``,
    setting: "real podman, 1 node",
    result: `p50 of ${samples.length} run${samples.length === 1 ? "" : "s"} (${msRange(samples)})`,
    p50: formatMs(percentile(samples, 50)),
    p99: "",
  });
}

/** `×1.23` — how many times `ours` is of `theirs`. */
function ratio(ours: number, theirs: number): string {
  return Number.isFinite(ours / theirs) ? `×${(ours / theirs).toFixed(2)}` : "n/a";
}

/** Pod start rows; the first result is ours and is compared with the others by p50 and p99. */
function podStartRows(results: StartResult[], settings: string[], run: Run): Row[] {
  const [ours] = results;
  return results.map((r, i) => {
    if (r.firstFailure) run.notes.push(r.firstFailure);
    let result = `${r.latenciesMs.length} pods`;
    if (ours && i > 0) {
      const p50 = ratio(percentile(ours.latenciesMs, 50), percentile(r.latenciesMs, 50));
      const p99 = ratio(percentile(ours.latenciesMs, 99), percentile(r.latenciesMs, 99));
      result += `; ours ÷ this: ${p50} p50, ${p99} p99`;
    }
    return {
      benchmark: r.label,
      setting: settings[i] ?? "",
      result,
      p50: formatMs(percentile(r.latenciesMs, 50)),
      p99: formatMs(percentile(r.latenciesMs, 99)),
    };
  });
}

/** Everything measured on `mod.ts up`. */
async function measureUp(run: Run): Promise<void> {
  log("starting mod.ts up on 127.0.0.1:0");
  await using cluster = await startCluster();
  run.nodes.add(cluster.nodeName);
  try {
    await measureOnUp(cluster, run);
  } catch (error) {
    throw withServerLog(cluster, error);
  }
}

async function measureOnUp(cluster: Cluster, run: Run): Promise<void> {
  const { plan, rows, notes } = run;
  await sleep(plan.settleMs);
  rows.push(
    await idleRssRow(
      "RSS, idle `up`",
      cluster.pid,
      plan.upIdleSeconds,
      `${plan.settleMs / 1000} s after ready`,
    ),
  );

  if (plan.parts.has("pods")) await measurePodStarts(cluster, run);
  if (plan.parts.has("scale")) await measureScaleOnUp(cluster, run);
  if (plan.parts.has("create")) await measureRead(cluster, run);
  for (const clients of plan.parts.has("create") ? plan.createLevels : []) {
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

  for (const watchers of plan.parts.has("watch") ? plan.watchLevels : []) {
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

  rows.push(rssRow("RSS of `up` after the load above", "", await rssMiB(cluster.pid)));
}

/** Sequential GETs of the local Node object (a few KB, as real objects are). */
async function measureRead(cluster: Cluster, run: Run): Promise<void> {
  await waitNodeReady(cluster.endpoint, cluster.nodeName, POD_TIMEOUT_MS);
  const path = `/api/v1/nodes/${cluster.nodeName}`;
  const size = (await cluster.request("GET", path)).text.length;
  log(`read: ${run.plan.readCount} GETs of ${path} (${size} bytes)`);
  const r = await benchRead(cluster.endpoint, path, run.plan.readCount, run.plan.createMaxMs);
  if (r.firstFailure) run.notes.push(`read: ${r.firstFailure}`);
  run.rows.push({
    benchmark: "read Node",
    setting: `1 client, ${(size / 1024).toFixed(1)} KB object`,
    result: `${r.ok} GETs`,
    p50: formatMs(percentile(r.latenciesMs, 50)),
    p99: formatMs(percentile(r.latenciesMs, 99)),
  });
}

/** Pod starts on `up`, side by side with raw podman and kube play. */
async function measurePodStarts(cluster: Cluster, run: Run): Promise<void> {
  const { plan, rows } = run;
  await waitNodeReady(cluster.endpoint, cluster.nodeName, POD_TIMEOUT_MS);
  await createNamespace(cluster, POD_NAMESPACE);
  log(`pod starts: ${plan.podStarts} (+${plan.podWarmup} warm-up) each via up, podman, kube play`);
  const starts = await benchPodStarts([
    apiStart({
      label: "pod start, `up`",
      endpoint: cluster.endpoint,
      namespace: POD_NAMESPACE,
      podman: run.podman,
      timeoutMs: POD_TIMEOUT_MS,
    }),
    rawPodmanStart("pod start, raw podman", run.podman, POD_TIMEOUT_MS),
    kubePlayStart("pod start, podman kube play", run.podman, run.dir, POD_TIMEOUT_MS),
    kubePlayStart(
      "pod start, podman kube play, unconfined",
      run.podman,
      run.dir,
      POD_TIMEOUT_MS,
      true,
    ),
  ], {
    count: plan.podStarts,
    warmup: plan.podWarmup,
    maxMs: plan.podStartsMaxMs,
    namePrefix: `${run.prefix}-up`,
    log,
  });
  rows.push(...podStartRows(starts, [
    "POST → watch: all running",
    "pod create + 2× run -d",
    "until containers run",
    "same, seccomp Unconfined as ours",
  ], run));
}

/**
 * The storage part: the binder alone in a fresh Deno process (before any cluster runs), then on
 * a fresh `up`: pod starts without a volume, with an emptyDir and with a claim of its own, side
 * by side, and the deletion of the claims those starts provisioned.
 */
async function measureStorage(run: Run): Promise<void> {
  const { plan: { storage: plan }, rows, notes } = run;
  log(`storage: ${plan.binderClaims} claims onto ${plan.binderVolumes} static PVs, in process`);
  const binder = await benchBinder(
    plan.binderVolumes,
    plan.binderClaims,
    `${run.dir}/binder.db`,
    180_000,
  );
  childLogNote("in-process binder", binder.stderr, run);
  rows.push(binderRow(binder, "file store"));

  log("storage: starting mod.ts up on 127.0.0.1:0");
  await using cluster = await startCluster();
  run.nodes.add(cluster.nodeName);
  try {
    await waitNodeReady(cluster.endpoint, cluster.nodeName, POD_TIMEOUT_MS);
    await createNamespace(cluster, STORAGE_NAMESPACE);
    log(
      `storage: ${plan.podStarts} (+${plan.podWarmup} warm-up) pod starts each with no volume, ` +
        "an emptyDir, a new claim",
    );
    const claims: string[] = [];
    const common = {
      endpoint: cluster.endpoint,
      namespace: STORAGE_NAMESPACE,
      podman: run.podman,
      timeoutMs: POD_TIMEOUT_MS,
    };
    const starts = await benchPodStarts([
      volumeStart({ ...common, label: "pod start, no volume, `up`", variant: "plain" }),
      volumeStart({ ...common, label: "pod start, emptyDir, `up`", variant: "emptyDir" }),
      volumeStart({ ...common, label: "pod start, new claim, `up`", variant: "claim", claims }),
    ], {
      count: plan.podStarts,
      warmup: plan.podWarmup,
      maxMs: plan.podStartsMaxMs,
      namePrefix: `${run.prefix}-storage`,
      log,
    });
    for (const r of starts) if (r.firstFailure) notes.push(r.firstFailure);
    rows.push(...volumeStartRows(starts, [
      "POST → watch: all running",
      "POST → watch: all running",
      "POST claim, POST pod → running",
    ]));

    log(`storage: deleting ${claims.length} claims (${plan.podWarmup} unmeasured)`);
    const deletes = await benchClaimDeletes({
      endpoint: cluster.endpoint,
      namespace: STORAGE_NAMESPACE,
      claims,
      warmup: plan.podWarmup,
      volumesRoot: `${cluster.dataDir}/agent/volumes`,
      timeoutMs: POD_TIMEOUT_MS,
      maxMs: plan.podStartsMaxMs,
      log,
    });
    if (deletes.firstFailure) notes.push(deletes.firstFailure);
    rows.push(claimDeleteRow(deletes));
  } catch (error) {
    throw withServerLog(cluster, error);
  }
}

/**
 * The agent on its own: `mod.ts server` plus a separate `mod.ts agent` process, whose RSS is
 * read idle and after it has run the same pod starts.
 *
 * Two agents, one after the other. The first runs from the same deno executable as the server
 * (and this script): the kernel shares those pages between the processes, and the agent cannot
 * page out what the others map too. The second runs from a copy of the executable, as on an edge
 * box whose control plane is elsewhere and where the agent is the only Deno process; it then runs
 * the pod starts.
 */
async function measureAgent(run: Run, nodeName: string): Promise<void> {
  const { plan, rows } = run;
  log("starting mod.ts server on 127.0.0.1:0 and a separate mod.ts agent");
  await using cluster = await startCluster({ mode: "server" });
  const access = {
    server: cluster.url,
    token: cluster.token,
    caFile: `${cluster.dataDir}/pki/ca.crt`,
  };
  let agent: AgentProcess | undefined;
  /** Starts an agent, waits for its Node to be Ready and settle, and samples its idle RSS. */
  const idleAgent = async (
    node: string,
    label: string,
    seconds: number,
    deno?: string,
  ): Promise<AgentProcess> => {
    run.nodes.add(node);
    const dataDir = `${run.dir}/${node}`;
    agent = await startAgentProcess({
      ...access,
      nodeName: node,
      dataDir,
      ...(deno ? { deno } : {}),
    });
    await waitNodeReady(cluster.endpoint, node, POD_TIMEOUT_MS);
    await sleep(plan.settleMs);
    log(`sampling the idle agent's RSS for ${seconds} s (${label})`);
    const from = `${plan.settleMs / 1000} s after Ready`;
    rows.push(await idleRssRow(`RSS, idle \`agent\`, ${label}`, agent.pid, seconds, from));
    return agent;
  };
  try {
    const shared = `${nodeName}-shared`;
    agent = await idleAgent(shared, "deno shared with `server`", plan.agentShortIdleSeconds);
    await agent.stop();
    agent = undefined;
    // no pod of the benchmark may be scheduled to it while it still looks Ready
    const deleted = await httpRequest(cluster.endpoint, "DELETE", `/api/v1/nodes/${shared}`);
    if (deleted.status !== 200) throw new Error(`DELETE node ${shared}: ${deleted.status}`);

    const deno = `${run.dir}/deno`;
    await Deno.copyFile(Deno.execPath(), deno);
    await Deno.chmod(deno, 0o755);
    agent = await idleAgent(nodeName, "own deno", plan.agentIdleSeconds, deno);
    log(`agent: ${/memory (?:not )?trimmed after start-up.*/.exec(agent.stdout())?.[0] ?? "?"}`);

    await createNamespace(cluster, POD_NAMESPACE);
    log(`pod starts: ${plan.podStarts} (+${plan.podWarmup} warm-up) via server + agent`);
    const starts = await benchPodStarts([
      apiStart({
        label: "pod start, `server` + `agent`",
        endpoint: cluster.endpoint,
        namespace: POD_NAMESPACE,
        podman: run.podman,
        timeoutMs: POD_TIMEOUT_MS,
      }),
    ], {
      count: plan.podStarts,
      warmup: plan.podWarmup,
      maxMs: plan.podStartsMaxMs,
      namePrefix: `${run.prefix}-agent`,
      log,
    });
    rows.push(...podStartRows(starts, ["POST → watch: all running"], run));
    rows.push(
      rssRow(
        "RSS of `agent` after its pod starts",
        `${starts[0]?.latenciesMs.length ?? 0} + ${plan.podWarmup} pods started, deleted`,
        await rssMiB(agent.pid),
      ),
      rssRow("RSS of `server` after the same", "", await rssMiB(cluster.pid)),
      await idleRssRow(
        "RSS of `agent`, idle again",
        agent.pid,
        plan.agentShortIdleSeconds,
        "the pod starts' end",
      ),
    );
    // a minute after its pods last changed, the agent trims what starting them used
    const trimmed = /memory trimmed after a minute without pod changes.*/;
    log("waiting for the agent's trim a minute after its last pod change");
    const deadline = Date.now() + 120_000;
    while (!trimmed.test(agent.stdout()) && Date.now() < deadline) await sleep(500);
    const said = trimmed.exec(agent.stdout())?.[0];
    if (!said) throw new Error("the agent did not trim its memory within 2 minutes of its pods");
    log(`agent: ${said}`);
    rows.push(
      await idleRssRow(
        "RSS of `agent`, after its quiet-spell trim",
        agent.pid,
        plan.agentIdleSeconds,
        "the trim",
      ),
    );
    // what the trim costs: the next start reads back the pages it needs from the executable
    const [after] = await benchPodStarts([
      apiStart({
        label: "first pod start after the trim",
        endpoint: cluster.endpoint,
        namespace: POD_NAMESPACE,
        podman: run.podman,
        timeoutMs: POD_TIMEOUT_MS,
      }),
    ], { count: 1, warmup: 0, maxMs: POD_TIMEOUT_MS, namePrefix: `${run.prefix}-trim`, log });
    if (after?.firstFailure) run.notes.push(after.firstFailure);
    const first = after?.latenciesMs[0];
    const before = percentile(starts[0]?.latenciesMs ?? [], 50);
    rows.push({
      benchmark: "first pod start after the trim",
      setting: "POST → watch: all running",
      result: first === undefined
        ? "failed"
        : `1 pod; ÷ the p50 of \`server\` + \`agent\`: ${ratio(first, before)}`,
      p50: first === undefined ? "" : formatMs(first),
      p99: "",
    });
  } catch (error) {
    const agentLog = agent ? `\n--- agent stderr (tail) ---\n${agent.stderr().slice(-4000)}` : "";
    throw new Error(`${withServerLog(cluster, error).message}${agentLog}`);
  } finally {
    await agent?.stop();
    // the agent ran as on a gateway, its service proxy too: its table goes with it
    const cleaned = await cleanupNode();
    for (const error of cleaned.errors) log(`clean-up: ${error}`);
  }
}

if (import.meta.main) {
  await main(Deno.args);
}

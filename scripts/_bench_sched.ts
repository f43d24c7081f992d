/**
 * Scheduler throughput for the benchmark: {@linkcode benchmarkSchedule} (placement logic only,
 * simulated nodes and pods, no store or API) run in a fresh Deno process, so the figures do not
 * depend on what the benchmark process did before (its heap, its JIT state, its open streams).
 *
 * As a program: `deno run scripts/_bench_sched.ts NODES PODS RUNS` prints one JSON array of pods/s,
 * one per run, after one unmeasured warm-up run.
 *
 * @module
 */

import { benchmarkSchedule } from "../control/scheduler/bench.ts";
import { ROOT, run } from "../tests/_harness.ts";

/** Throughput of `runs` scheduling runs of `pods` pods onto `nodes` nodes, in pods/s. */
export interface ScheduleResult {
  nodes: number;
  pods: number;
  podsPerSecond: number[];
}

/** Runs this file as a child process (bounded by `timeoutMs`) and returns its samples. */
export async function benchSchedule(
  nodes: number,
  pods: number,
  runs: number,
  timeoutMs: number,
): Promise<ScheduleResult> {
  const result = await run(
    Deno.execPath(),
    [
      "run",
      "--allow-all",
      `${ROOT}/scripts/_bench_sched.ts`,
      String(nodes),
      String(pods),
      String(runs),
    ],
    { timeoutMs },
  );
  if (result.code !== 0) {
    throw new Error(
      `scheduling ${pods} pods onto ${nodes} nodes failed (exit ${result.code}): ${result.stderr}`,
    );
  }
  return { nodes, pods, podsPerSecond: JSON.parse(result.stdout) as number[] };
}

if (import.meta.main) {
  const [nodes, pods, runs] = Deno.args.map(Number);
  if (!nodes || !pods || !runs) {
    console.error("usage: _bench_sched.ts NODES PODS RUNS");
    Deno.exit(2);
  }
  benchmarkSchedule(nodes, pods);
  console.log(JSON.stringify(Array.from({ length: runs }, () => benchmarkSchedule(nodes, pods))));
}

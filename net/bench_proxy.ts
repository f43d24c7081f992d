/**
 * Service proxy benchmark: how long one service change takes to compute and program with
 * 1,000 and 10,000 services present (and how big its script is), and a full sync of 10,000
 * services × 5 endpoints applied with `nft -f` inside a throwaway network namespace.
 *
 * `deno run --allow-all net/bench_proxy.ts` prints the figures; {@linkcode benchProxy}
 * returns them.
 *
 * @module
 */

import { enter, nftSkipReason, run, withNetns } from "./_nft_netns.ts";
import { eps, manyServices, NODE } from "./_proxy_fixtures.ts";
import { renderDiff, renderFull } from "./nft_render.ts";
import { buildProxyState, ProxyModelCache } from "./proxy_model.ts";

/** One service change with `services` present (medians over the repetitions). */
export interface ChangeFigures {
  services: number;
  /** building the ProxyState from Services and Endpoints (unchanged services cached) */
  buildMs: number;
  /** rendering the diff between the two states */
  diffMs: number;
  /** the diff script's size */
  diffBytes: number;
  /** `nft -f` of the diff against a live table of that size (absent without nft/root) */
  applyMs?: number;
  /** build + diff + apply, one change as the Proxier programs it (absent without nft/root) */
  syncMs?: number;
}

/** A full sync of `services` × `endpointsPerService`. */
export interface FullSyncFigures {
  services: number;
  endpointsPerService: number;
  buildMs: number;
  renderMs: number;
  bytes: number;
  /** `nft -f` of the whole script into an empty namespace */
  applyMs: number;
  /** `nft -f` of the whole script replacing the live table (a resync) */
  reapplyMs: number;
}

/** Everything {@linkcode benchProxy} measured. */
export interface ProxyBenchResult {
  changes: ChangeFigures[];
  fullSync?: FullSyncFigures;
  /** why the nft parts did not run */
  skipped?: string;
}

/** Options of {@linkcode benchProxy}. */
export interface ProxyBenchOptions {
  /** the service counts to measure one change against (default 1,000 and 10,000) */
  sizes?: number[];
  /** ready endpoints per service (default 5) */
  endpointsPerService?: number;
  /** repetitions per figure; medians are reported (default 5) */
  repeat?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(fn: () => unknown | Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Measures the proxy; the nft parts run only as root with nft, in a namespace of their own. */
export async function benchProxy(options: ProxyBenchOptions = {}): Promise<ProxyBenchResult> {
  const sizes = options.sizes ?? [1_000, 10_000];
  const per = options.endpointsPerService ?? 5;
  const repeat = options.repeat ?? 5;
  const skipped = await nftSkipReason();
  const result: ProxyBenchResult = { changes: [], ...(skipped ? { skipped } : {}) };

  for (const size of sizes) {
    const { services, endpoints } = manyServices(size, per);
    const cache = new ProxyModelCache(); // as the Proxier keeps one
    const base = buildProxyState(services, endpoints, NODE, cache);
    const builds: number[] = [];
    const diffs: number[] = [];
    const applies: number[] = [];
    const syncs: number[] = [];
    let diffBytes = 0;
    const apply = async (ns: string | undefined) => {
      if (ns) await run("nsenter", [...enter(ns), "nft", "-f", "-"], renderFull(base));
      let current = base;
      for (let i = 0; i < repeat; i++) {
        // the middle service gains one endpoint (and the next change removes it again)
        const changed = [...endpoints];
        const target = Math.floor(size / 2);
        if (i % 2 === 0) {
          changed[target] = eps(`bench/svc-${target}`, [{
            ready: [...endpoints[target]!.subsets![0]!.addresses!.map((a) => a.ip), "10.250.0.1"],
            ports: [{ port: 8080 }],
          }]);
        }
        let next = current;
        builds.push(await time(() => next = buildProxyState(services, changed, NODE, cache)));
        let script = "";
        diffs.push(await time(() => script = renderDiff(current, next)));
        diffBytes = script.length;
        if (ns) {
          applies.push(await time(() => run("nsenter", [...enter(ns), "nft", "-f", "-"], script)));
          syncs.push(builds.at(-1)! + diffs.at(-1)! + applies.at(-1)!);
        }
        current = next;
      }
    };
    if (skipped) await apply(undefined);
    else await withNetns(apply);
    result.changes.push({
      services: size,
      buildMs: median(builds),
      diffMs: median(diffs),
      diffBytes,
      ...(applies.length > 0 ? { applyMs: median(applies), syncMs: median(syncs) } : {}),
    });
  }

  if (!skipped) {
    const size = Math.max(...sizes);
    const { services, endpoints } = manyServices(size, per);
    let state = buildProxyState([], [], NODE);
    const buildMs = await time(() => state = buildProxyState(services, endpoints, NODE));
    let script = "";
    const renderMs = await time(() => script = renderFull(state));
    await withNetns(async (ns) => {
      const nft = () => run("nsenter", [...enter(ns), "nft", "-f", "-"], script);
      const applyMs = await time(nft);
      const reapplyMs = await time(nft);
      result.fullSync = {
        services: size,
        endpointsPerService: per,
        buildMs,
        renderMs,
        bytes: script.length,
        applyMs,
        reapplyMs,
      };
    });
  }
  return result;
}

if (import.meta.main) {
  const r = await benchProxy();
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  for (const c of r.changes) {
    console.log(
      `one change, ${c.services} services: build ${ms(c.buildMs)}, diff ${ms(c.diffMs)} ` +
        `(${c.diffBytes} bytes)` +
        (c.applyMs === undefined ? "" : `, nft -f ${ms(c.applyMs)}, sync ${ms(c.syncMs!)}`),
    );
  }
  if (r.fullSync) {
    const f = r.fullSync;
    console.log(
      `full sync, ${f.services} services × ${f.endpointsPerService} endpoints: build ` +
        `${ms(f.buildMs)}, render ${ms(f.renderMs)} (${(f.bytes / 1e6).toFixed(1)} MB), ` +
        `nft -f ${ms(f.applyMs)}, replace live table ${ms(f.reapplyMs)}`,
    );
  }
  if (r.skipped) console.log(`nft parts skipped: ${r.skipped}`);
}

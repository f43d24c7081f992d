/**
 * Service proxy benchmark: how long one service change takes to compute and program with
 * 1,000 and 10,000 services present (and how big its script is), and a full sync of 10,000
 * services × 5 endpoints applied with `nft -f` inside a throwaway network namespace: once
 * for a node that does not say which pod CIDR is its own (so every endpoint goes into the
 * hairpin set, the worst case) and once for a node with its `podCIDR` (1/200 of the
 * endpoints are its own, as on one node of a 200-node cluster).
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

/**
 * One service change with `services` present: the middle service gains an endpoint, then
 * loses it again, and so on (medians over the repetitions, after one untimed change that
 * warms up the JIT as a running agent's is).
 */
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
  /** the node's `podCIDR`, if it said (only endpoints in it can hairpin) */
  podCIDR?: string;
  /** elements of the `hairpin-endpoints` set */
  hairpinElements: number;
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
  /** for a node without `podCIDR`: every endpoint in the hairpin set */
  fullSync?: FullSyncFigures;
  /** for a node with its `podCIDR` */
  fullSyncOnNode?: FullSyncFigures;
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
      for (let i = -1; i < repeat; i++) {
        // the middle service gains one endpoint (and the next change removes it again)
        const changed = [...endpoints];
        const target = Math.floor(size / 2);
        if (i % 2 !== 0) {
          changed[target] = eps(`bench/svc-${target}`, [{
            ready: [...endpoints[target]!.subsets![0]!.addresses!.map((a) => a.ip), "10.250.0.1"],
            ports: [{ port: 8080 }],
          }]);
        }
        let next = current;
        const build = await time(() => next = buildProxyState(services, changed, NODE, cache));
        let script = "";
        const diff = await time(() => script = renderDiff(current, next));
        const applied = ns
          ? await time(() => run("nsenter", [...enter(ns), "nft", "-f", "-"], script))
          : undefined;
        current = next;
        if (i < 0) continue; // the warm-up
        builds.push(build);
        diffs.push(diff);
        diffBytes = script.length;
        if (applied !== undefined) {
          applies.push(applied);
          syncs.push(build + diff + applied);
        }
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
    for (const podCIDR of [undefined, "10.244.0.0/24"]) {
      const node = podCIDR ? { ...NODE, podCIDR } : NODE;
      let state = buildProxyState([], [], node);
      const buildMs = await time(() => state = buildProxyState(services, endpoints, node));
      let script = "";
      const renderMs = await time(() => script = renderFull(state));
      await withNetns(async (ns) => {
        const nft = () => run("nsenter", [...enter(ns), "nft", "-f", "-"], script);
        const applyMs = await time(nft);
        const reapplyMs = await time(nft);
        const figures: FullSyncFigures = {
          services: size,
          endpointsPerService: per,
          ...(podCIDR ? { podCIDR } : {}),
          hairpinElements: state.sets.get("hairpin-endpoints")!.elements.size,
          buildMs,
          renderMs,
          bytes: script.length,
          applyMs,
          reapplyMs,
        };
        if (podCIDR) result.fullSyncOnNode = figures;
        else result.fullSync = figures;
      });
    }
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
  for (const f of [r.fullSync, r.fullSyncOnNode]) {
    if (!f) continue;
    console.log(
      `full sync, ${f.services} services × ${f.endpointsPerService} endpoints` +
        (f.podCIDR ? ` on a node with podCIDR ${f.podCIDR}` : "") +
        ` (${f.hairpinElements} hairpin elements): build ${ms(f.buildMs)}, render ` +
        `${ms(f.renderMs)} (${(f.bytes / 1e6).toFixed(1)} MB), nft -f ${ms(f.applyMs)}, ` +
        `total ${ms(f.buildMs + f.renderMs + f.applyMs)}, replace live table ${ms(f.reapplyMs)}`,
    );
  }
  if (r.skipped) console.log(`nft parts skipped: ${r.skipped}`);
}

/**
 * The `net` part of the benchmark: the service proxy's nftables programming (one change with
 * 1,000 and 10,000 services present, a full sync of 10,000 × 5), cluster DNS queries/s, and
 * on three real nodes (network namespaces, `server` + 3 agents) how long an Endpoints change
 * takes to reach every node's rules.
 *
 * Every address used lives in namespaces made here; loops are bounded in count and time.
 *
 * @module
 */

import { benchProxy } from "../net/bench_proxy.ts";
import { benchDns } from "../net/dns/bench_dns.ts";
import { nodesReady, runIn, startMultiNode } from "../tests/_multinode.ts";
import { canCreateNamespaces } from "../tests/_netns.ts";
import { until } from "../tests/_e2e.ts";
import { formatMs, percentile, type Row } from "./_bench_stats.ts";

/** Sizes of the `net` part. */
export interface NetPlan {
  proxySizes: number[];
  proxyRepeat: number;
  dnsServices: number;
  dnsQueries: number;
  /** Endpoints changes timed on three nodes */
  propagationRuns: number;
}

/** The proxy and DNS rows (no cluster needed). */
export async function benchNetUnits(plan: NetPlan, log: (s: string) => void): Promise<Row[]> {
  const rows: Row[] = [];
  log(`proxy: one change with ${plan.proxySizes.join(" and ")} services, full sync`);
  const proxy = await benchProxy({ sizes: plan.proxySizes, repeat: plan.proxyRepeat });
  for (const c of proxy.changes) {
    rows.push({
      benchmark: "nft: one service change",
      setting: `${c.services} services × 5 endpoints`,
      result: c.syncMs !== undefined
        ? `build ${formatMs(c.buildMs)} + diff ${formatMs(c.diffMs)} + nft -f ${
          formatMs(c.applyMs!)
        }; ${c.diffBytes} B script`
        : `build ${formatMs(c.buildMs)} + diff ${formatMs(c.diffMs)} (${proxy.skipped})`,
      p50: c.syncMs !== undefined ? formatMs(c.syncMs) : "",
      p99: "",
    });
  }
  if (proxy.fullSync) {
    const f = proxy.fullSync;
    rows.push({
      benchmark: "nft: full sync",
      setting: `${f.services} services × ${f.endpointsPerService} endpoints`,
      result: `build ${formatMs(f.buildMs)} + render ${formatMs(f.renderMs)} + nft -f ${
        formatMs(f.applyMs)
      } (${(f.bytes / 1e6).toFixed(1)} MB); replacing the live table ${formatMs(f.reapplyMs)}`,
      p50: formatMs(f.buildMs + f.renderMs + f.applyMs),
      p99: "",
    });
  }
  log(`dns: ${plan.dnsQueries} queries, ${plan.dnsServices} services`);
  const dns = await benchDns({ services: plan.dnsServices, queries: plan.dnsQueries });
  rows.push({
    benchmark: "cluster DNS (UDP, 127.0.0.1)",
    setting: `${dns.services} services, ${dns.concurrency} in flight`,
    result: `${Math.round(dns.qps)} queries/s (${dns.answered} answered, ${dns.failed} failed)`,
    p50: "",
    p99: "",
  });
  return rows;
}

const PROPAGATION_SERVICE = `
apiVersion: v1
kind: Service
metadata: {name: prop}
spec:
  ports: [{port: 80, targetPort: 8080}]
`;

function endpointsYaml(ip: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name: "prop" },
    subsets: [{ addresses: [{ ip }], ports: [{ port: 8080 }] }],
  });
}

/**
 * `server` + 3 agents in namespaces: each run applies Endpoints with a new address (through
 * stock kubectl, whose own run is part of the figure) and polls every node's table until the
 * address is there.
 */
export async function benchPropagation(plan: NetPlan, log: (s: string) => void): Promise<Row[]> {
  const why = await canCreateNamespaces();
  if (why) return [];
  log("propagation: server + 3 agents in network namespaces");
  const c = await startMultiNode(["a", "b", "c"]);
  try {
    await nodesReady(c, 3, until);
    const s = await c.kubectl(["apply", "-f", "-"], PROPAGATION_SERVICE);
    if (s.code !== 0) throw new Error(s.stderr);
    const kubectlMs: number[] = [];
    const samples: number[] = [];
    // one unmeasured change first: the agents' first Endpoints event after start
    for (let i = -1; i < plan.propagationRuns; i++) {
      const n = i + 1;
      const ip = `10.250.${Math.floor(n / 250)}.${1 + (n % 250)}`;
      const started = performance.now();
      const r = await c.kubectl(["apply", "-f", "-"], endpointsYaml(ip));
      if (r.code !== 0) throw new Error(r.stderr);
      const kubectlDone = performance.now();
      const pending = new Set(["a", "b", "c"]);
      const deadline = started + 30_000;
      while (pending.size > 0 && performance.now() < deadline) {
        for (const m of [...pending]) {
          const t = await runIn(c.fabric, m, "nft", ["list", "table", "ip", "edge-proxy"]);
          if (t.stdout.includes(`${ip} . 8080`)) pending.delete(m);
        }
      }
      if (pending.size > 0) throw new Error(`Endpoints change ${n} never reached ${[...pending]}`);
      if (i < 0) continue;
      kubectlMs.push(kubectlDone - started);
      samples.push(performance.now() - started);
    }
    const slowest = samples.indexOf(Math.max(...samples));
    return [{
      benchmark: "Endpoints change → rules on every node",
      setting: "3 nodes (netns), kubectl apply",
      result: `${samples.length} changes; kubectl apply alone p50 ${
        formatMs(percentile(kubectlMs, 50))
      }; slowest ${formatMs(samples[slowest]!)}, kubectl ${formatMs(kubectlMs[slowest]!)} of it`,
      p50: formatMs(percentile(samples, 50)),
      p99: formatMs(percentile(samples, 99)),
    }];
  } finally {
    await c.destroy();
  }
}

import assert from "node:assert/strict";
import type { Endpoints } from "../storage/kinds/endpoints.ts";
import type { Service } from "../storage/kinds/service.ts";
import { enter, nftSkipReason, run, withNetns } from "./_nft_netns.ts";
import { eps, NODE, type PortSpec, svc } from "./_proxy_fixtures.ts";
import { renderDiff, renderFull } from "./nft_render.ts";
import { diffProxyStates, needsReplace } from "./proxy_diff.ts";
import {
  buildProxyState,
  ProxyModelCache,
  type ProxyNode,
  proxyParts,
  type ProxyState,
  sliceOf,
} from "./proxy_model.ts";

const SKIP = await nftSkipReason();

/** A small deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A cluster that changes at random, drawing from small pools of addresses and ports so that
 * services share endpoints and sometimes claim each other's clusterIPs and NodePorts.
 */
class RandomCluster {
  readonly services = new Map<string, Service>();
  readonly endpoints = new Map<string, Endpoints>();
  readonly #rand: () => number;

  constructor(seed: number) {
    this.#rand = random(seed);
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.#rand() * xs.length)]!;
  }

  /** Mostly `own` (one per service), now and then one of `shared` (so claims collide). */
  #mostly<T>(own: T, shared: readonly T[]): T {
    return this.#rand() < 0.08 ? this.#pick(shared) : own;
  }

  #ports(n: number): PortSpec[] {
    const count = this.#pick([1, 1, 2]);
    const first = this.#pick([80, 443, 53]);
    return Array.from({ length: count }, (_, i) => {
      const name = count > 1 ? ["http", "dns"][i]! : this.#pick(["", "http"]);
      return {
        ...(name ? { name } : {}),
        port: first + i,
        protocol: this.#pick(["TCP", "TCP", "UDP"] as const),
        nodePort: this.#mostly(30100 + 2 * n + i, [30080, 30081]),
      };
    });
  }

  #service(key: string): Service {
    const n = Number(key.replace(/\D/g, ""));
    const type = this.#pick(["ClusterIP", "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]);
    const headless = this.#rand() < 0.1;
    const sticky = this.#rand() < 0.25;
    const ingress = this.#mostly(`192.168.50.${10 + n}`, ["192.168.50.10"]);
    return svc(
      key,
      {
        type: type as Service["spec"]["type"],
        clusterIP: headless ? "None" : this.#mostly(`10.96.0.${20 + n}`, ["10.96.0.20"]),
        ...(this.#rand() < 0.2
          ? { externalIPs: [this.#mostly(`192.168.60.${n}`, ["192.168.60.200"])] }
          : {}),
        ...(sticky
          ? {
            sessionAffinity: "ClientIP" as const,
            sessionAffinityConfig: { clientIP: { timeoutSeconds: this.#pick([600, 600, 900]) } },
          }
          : {}),
        ports: this.#ports(n),
      },
      type === "LoadBalancer" ? { loadBalancer: { ingress: [{ ip: ingress }] } } : undefined,
    );
  }

  #endpoints(key: string): Endpoints {
    const service = this.services.get(key);
    const specs: { name?: string; port: number; protocol?: string }[] = service?.spec?.ports ??
      [{ port: 80 }];
    const ports = specs.map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      port: 8000 + p.port,
      protocol: (p.protocol ?? "TCP") as PortSpec["protocol"],
    }));
    const ready = Array.from(
      { length: this.#pick([0, 1, 2, 2, 3, 5]) },
      () => `10.244.${this.#pick([1, 2])}.${this.#pick([1, 2, 3, 4, 5, 6])}`,
    );
    return eps(key, [{ ready, ports }]);
  }

  /** Applies one to three random changes. */
  step(): void {
    for (let n = 1 + Math.floor(this.#rand() * 3); n > 0; n--) {
      const key = `default/s${Math.floor(this.#rand() * 12)}`;
      const r = this.#rand();
      if (r < 0.3) this.services.set(key, this.#service(key));
      else if (r < 0.4) this.services.delete(key);
      else if (r < 0.9) this.endpoints.set(key, this.#endpoints(key));
      else this.endpoints.delete(key);
    }
  }

  lists(): { services: Service[]; endpoints: Endpoints[] } {
    const services = [...this.services.values()];
    // now and then the same key twice, as a broken watch cache could hand over
    if (services.length > 0 && this.#rand() < 0.02) services.push(services[0]!);
    return { services, endpoints: [...this.endpoints.values()] };
  }
}

/** The same state as plain data, so that diffs of it compare everything. */
function plain(state: ProxyState): ProxyState {
  return {
    table: state.table,
    comment: state.comment,
    chains: new Map(state.chains),
    sets: new Map(state.sets),
    maps: new Map(state.maps),
    problems: state.problems,
  };
}

/** The node of step `i`: now and then it gets its podCIDR, or another one. */
function nodeAt(i: number): ProxyNode {
  const podCIDR = [undefined, "10.244.1.0/24", "10.244.2.0/24"][Math.floor(i / 50) % 3];
  return podCIDR ? { ...NODE, podCIDR } : NODE;
}

Deno.test("buildProxyState() with a cache builds what it builds without one", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const cluster = new RandomCluster(seed);
    const cache = new ProxyModelCache();
    for (let i = 0; i < 150; i++) {
      cluster.step();
      const { services, endpoints } = cluster.lists();
      const cached = buildProxyState(services, endpoints, nodeAt(i), cache);
      const fresh = buildProxyState(services, endpoints, nodeAt(i));
      assert.equal(renderFull(cached), renderFull(fresh), `seed ${seed} step ${i}`);
      assert.deepEqual(cached.problems, fresh.problems, `seed ${seed} step ${i}`);
    }
  }
});

Deno.test("renderDiff() gives the same script whether it compares slices or everything", () => {
  for (const seed of [11, 12, 13, 14, 15]) {
    const cluster = new RandomCluster(seed);
    const cache = new ProxyModelCache();
    let before = buildProxyState([], [], NODE, cache);
    let beforeFresh = buildProxyState([], [], NODE);
    for (let i = 0; i < 150; i++) {
      cluster.step();
      const { services, endpoints } = cluster.lists();
      const after = buildProxyState(services, endpoints, nodeAt(i), cache);
      const afterFresh = buildProxyState(services, endpoints, nodeAt(i));
      const expected = renderDiff(plain(before), plain(afterFresh));
      const at = `seed ${seed} step ${i}`;
      assert.equal(needsReplace(before, after), needsReplace(plain(before), plain(after)), at);
      assert.equal(renderDiff(before, after), expected, `${at} (derived state)`);
      assert.equal(renderDiff(beforeFresh, afterFresh), expected, `${at} (unrelated states)`);
      before = after;
      beforeFresh = afterFresh;
    }
  }
});

Deno.test("buildProxyState() with a cache re-merges only the services that changed", () => {
  const services = Array.from(
    { length: 100 },
    (_, i) => svc(`ns/s${i}`, { clusterIP: `10.96.1.${i + 1}`, ports: [{ port: 80 }] }),
  );
  const endpoints = services.map((_, i) =>
    eps(`ns/s${i}`, [{ ready: [`10.244.1.${i + 1}`], ports: [{ port: 80 }] }])
  );
  const cache = new ProxyModelCache();
  const first = buildProxyState(services, endpoints, NODE, cache);
  const changed = [...endpoints];
  changed[42] = eps("ns/s42", [{ ready: ["10.244.2.1", "10.244.2.2"], ports: [{ port: 80 }] }]);
  const second = buildProxyState(services, changed, NODE, cache);
  const [a, b] = [proxyParts(first)!, proxyParts(second)!];
  assert.deepEqual(b.base, { id: a.id, changed: ["ns/s42"] });
  assert.equal(sliceOf(b, "ns/s41"), sliceOf(a, "ns/s41"));
  assert.notEqual(sliceOf(b, "ns/s42"), sliceOf(a, "ns/s42"));
  const diff = diffProxyStates(first, second);
  assert.deepEqual(diff.chains.map((c) => c.chain.name), ["pick-tcp-2"]);
  assert.deepEqual(diff.elements.map((e) => e.name), [
    "service-ips",
    "tcp-endpoints-1",
    "tcp-endpoints-2",
    "hairpin-endpoints",
  ]);

  const removed = buildProxyState(services.slice(1), changed.slice(1), NODE, cache);
  assert.deepEqual(proxyParts(removed)!.base?.changed, ["ns/s0"]);
  assert.match(
    renderDiff(second, removed),
    /^delete element ip edge-proxy cluster-ips \{ 10\.96\.1\.1 \}$/m,
  );
});

/**
 * `nft list table` output with its sets, maps and chains in name order and each element list
 * sorted: the kernel lists chains in the order they were added, and hash sets in any order.
 */
function normalise(listing: string): string {
  const sorted = listing.replace(
    /elements = \{([^}]*)\}/g,
    (_, body: string) => `elements = { ${body.split(",").map((e) => e.trim()).sort().join(", ")} }`,
  );
  const body = sorted.trim().replace(/\}$/, "");
  return body.split("\n\n").map((block) => block.trim()).sort().join("\n\n");
}

Deno.test({
  name:
    "renderDiff() scripts of random changes apply in a namespace and end where renderFull() does",
  ignore: SKIP !== undefined,
  async fn() {
    await withNetns(async (ns) => {
      const nft = (args: string[], stdin?: string) =>
        run("nsenter", [...enter(ns), "nft", ...args], stdin);
      const cluster = new RandomCluster(99);
      const cache = new ProxyModelCache();
      let state = buildProxyState([], [], NODE, cache);
      await nft(["-f", "-"], renderFull(state));
      for (let i = 0; i < 40; i++) {
        cluster.step();
        const { services, endpoints } = cluster.lists();
        const next = buildProxyState(services, endpoints, nodeAt(i * 4), cache);
        await nft(["-f", "-"], renderDiff(state, next));
        state = next;
      }
      const diffed = normalise(await nft(["list", "table", "ip", "edge-proxy"]));
      await nft(["-f", "-"], renderFull(state));
      assert.equal(diffed, normalise(await nft(["list", "table", "ip", "edge-proxy"])));
    });
  },
});

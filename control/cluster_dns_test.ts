import assert from "node:assert/strict";
import { ask } from "../net/dns/_testing.ts";
import type { KvStore } from "../storage/kv_store.ts";
import type { KubeObject } from "../storage/object.ts";
import { findKind } from "../storage/registry.ts";
import { storeWithNamespaces } from "./_testing.ts";
import { Objects } from "./api/objects.ts";
import { ClusterDns, type ClusterDnsOptions } from "./cluster_dns.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const services = findKind("v1", "Service")!;
const endpointsType = findKind("v1", "Endpoints")!;

async function withDns(
  fn: (dns: ClusterDns, store: KvStore, objects: Objects) => Promise<void> | void,
  options: Partial<ClusterDnsOptions> = {},
  store?: KvStore,
): Promise<void> {
  const s = store ?? await storeWithNamespaces();
  const dns = new ClusterDns({
    store: s,
    listen: { hostname: "127.0.0.1", port: 0 },
    advertiseAddress: "192.0.2.10",
    retryMs: 50,
    ...options,
  });
  try {
    await dns.start();
    await fn(dns, s, new Objects(s));
  } finally {
    await dns.stop();
    if (!store) await s.close();
  }
}

/** Polls `check` until it returns a value (at most ~5 s, 200 tries). */
async function eventually<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 200; i++) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

async function addresses(port: number, name: string): Promise<string[] | string> {
  const reply = await ask(port, name, "A");
  if (reply.rcode !== "NOERROR") return reply.rcode;
  return (reply.answers ?? []).map((a) => a.type === "A" ? a.data : a.type).sort();
}

function kubeDns(store: KvStore, kind: "services" | "endpoints"): Promise<KubeObject | null> {
  return store.get(`/core/${kind}/kube-system/kube-dns`);
}

Deno.test("ClusterDns.start() creates the kube-dns Service and Endpoints with the real port", async () => {
  await withDns(async (dns, store) => {
    const port = dns.address.port;
    const svc = await kubeDns(store, "services");
    assert.deepEqual(svc?.metadata.labels, { "k8s-app": "kube-dns" });
    const spec = svc?.spec as Record<string, unknown>;
    assert.equal(spec.clusterIP, "10.96.0.10");
    assert.equal(spec.selector, undefined);
    assert.deepEqual(spec.ports, [
      { name: "dns", protocol: "UDP", port: 53, targetPort: port },
      { name: "dns-tcp", protocol: "TCP", port: 53, targetPort: port },
    ]);
    const ep = await kubeDns(store, "endpoints");
    assert.deepEqual(ep?.subsets, [{
      addresses: [{ ip: "192.0.2.10" }],
      ports: [
        { name: "dns", protocol: "UDP", port },
        { name: "dns-tcp", protocol: "TCP", port },
      ],
    }]);
    // and it answers for itself
    assert.deepEqual(
      await eventually("kube-dns in the zone", async () => {
        const found = await addresses(port, "kube-dns.kube-system.svc.cluster.local");
        return Array.isArray(found) && found.length > 0 ? found : undefined;
      }),
      ["10.96.0.10"],
    );
  });
});

Deno.test("ClusterDns follows services and endpoints: answers, then NXDOMAIN after deletion", async () => {
  await withDns(async (dns, _store, objects) => {
    const port = dns.address.port;
    await objects.create(services, "default", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web" },
      spec: { clusterIP: "10.96.0.50", ports: [{ name: "http", port: 80 }], selector: { a: "b" } },
    }, WRITE);
    await objects.create(services, "default", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "db" },
      spec: { clusterIP: "None", ports: [{ name: "pg", port: 5432 }], selector: { a: "c" } },
    }, WRITE);
    await objects.create(endpointsType, "default", {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name: "db" },
      subsets: [{
        addresses: [{ ip: "10.244.1.5" }, { ip: "10.244.2.6" }],
        ports: [{ name: "pg", port: 5432 }],
      }],
    }, WRITE);

    await eventually("web's A record", async () => {
      const found = await addresses(port, "web.default.svc.cluster.local");
      return sameList(found, ["10.96.0.50"]);
    });
    await eventually("db's A records", async () => {
      const found = await addresses(port, "db.default.svc.cluster.local");
      return sameList(found, ["10.244.1.5", "10.244.2.6"]);
    });

    await objects.delete(services, "default", "web", { dryRun: false });
    await objects.delete(endpointsType, "default", "db", { dryRun: false });
    await eventually("web gone", async () => {
      return await addresses(port, "web.default.svc.cluster.local") === "NXDOMAIN" || undefined;
    });
    // db still exists without endpoints: NODATA
    await eventually("db without addresses", async () => {
      return sameList(await addresses(port, "db.default.svc.cluster.local"), []);
    });
    await objects.delete(services, "default", "db", { dryRun: false });
    await eventually("db gone", async () => {
      return await addresses(port, "db.default.svc.cluster.local") === "NXDOMAIN" || undefined;
    });
  });
});

Deno.test("ClusterDns.start() is idempotent: a second start on the same port writes nothing", async () => {
  const store = await storeWithNamespaces();
  try {
    let port = 0;
    await withDns(
      (dns) => {
        port = dns.address.port;
      },
      {},
      store,
    );
    const svc = await kubeDns(store, "services");
    const ep = await kubeDns(store, "endpoints");
    await withDns(
      (dns) => {
        assert.equal(dns.address.port, port);
      },
      { listen: { hostname: "127.0.0.1", port } },
      store,
    );
    assert.equal(
      (await kubeDns(store, "services"))?.metadata.resourceVersion,
      svc?.metadata.resourceVersion,
    );
    assert.equal(
      (await kubeDns(store, "endpoints"))?.metadata.resourceVersion,
      ep?.metadata.resourceVersion,
    );
  } finally {
    await store.close();
  }
});

Deno.test("ClusterDns.start() repairs a kube-dns Service and honours a new cluster IP", async () => {
  const store = await storeWithNamespaces();
  try {
    const objects = new Objects(store);
    await objects.create(services, "kube-system", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kube-dns" },
      spec: { clusterIP: "10.96.0.10", ports: [{ port: 99 }], selector: { app: "x" } },
    }, WRITE);
    await withDns(
      async (dns) => {
        const spec = (await kubeDns(store, "services"))?.spec as Record<string, unknown>;
        assert.equal(spec.selector, undefined);
        assert.deepEqual(
          (spec.ports as Array<{ name: string; targetPort: number }>).map((
            p,
          ) => [p.name, p.targetPort]),
          [["dns", dns.address.port], ["dns-tcp", dns.address.port]],
        );
      },
      {},
      store,
    );
    await withDns(
      async () => {
        const spec = (await kubeDns(store, "services"))?.spec as Record<string, unknown>;
        assert.equal(spec.clusterIP, "10.96.0.11");
      },
      { clusterIP: "10.96.0.11" },
      store,
    );
  } finally {
    await store.close();
  }
});

Deno.test("ClusterDns rejects an advertise address or cluster IP that is not an IP", async () => {
  const store = await storeWithNamespaces();
  try {
    const base = { store, listen: { hostname: "127.0.0.1", port: 0 } };
    assert.throws(() => new ClusterDns({ ...base, advertiseAddress: "node-1" }), /not an IP/);
    assert.throws(
      () => new ClusterDns({ ...base, advertiseAddress: "192.0.2.1", clusterIP: "x" }),
      /not an IP/,
    );
  } finally {
    await store.close();
  }
});

function sameList(found: string[] | string, expected: string[]): true | undefined {
  return Array.isArray(found) && found.join() === [...expected].sort().join() ? true : undefined;
}

import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import { storeWithNamespaces } from "../_testing.ts";
import { Objects, registerAdmission } from "../api/objects.ts";
import { GatedStore } from "./_testing.ts";
import { contains, parseCidr, requireIPv4 } from "./cidr.ts";
import { parsePortRange } from "./cluster_network.ts";
import { prepareServiceUpdate, ServiceAllocator } from "./service_allocator.ts";

const SERVICES = findKind("v1", "Service")!;
const WRITE = { fieldValidation: "Strict", dryRun: false } as const;

interface Setup {
  store: Store;
  objects: Objects;
  allocator: ServiceAllocator;
}

interface SetupOptions {
  serviceCidr?: string;
  nodePortRange?: string;
  /** wrap the store so its watches can be held back */
  gated?: boolean;
}

/** An allocator over an in-memory store (a /28 and 30000-30009 unless told), registered. */
/** A seeded PRNG (mulberry32): random picks, but the same ones every run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function withAllocator(
  options: SetupOptions,
  fn: (s: Setup & { gate?: GatedStore }) => Promise<void>,
): Promise<void> {
  const kv = await storeWithNamespaces("default", "kube-system");
  const gate = options.gated ? new GatedStore(kv) : undefined;
  const store: Store = gate ?? kv;
  const make = () =>
    new ServiceAllocator({
      store,
      serviceCidr: parseCidr(options.serviceCidr ?? "10.96.0.0/28"),
      nodePorts: parsePortRange(options.nodePortRange ?? "30000-30009"),
      reservedIPs: { "10.96.0.1": "default/kubernetes", "10.96.0.10": "kube-system/kube-dns" },
      // tests choose fixed values next to random picks: the picks must not vary between runs
      random: seededRandom(7),
    });
  const allocator = make();
  const unregister = registerAdmission(store, SERVICES, allocator.admission());
  await allocator.start();
  try {
    await fn({ store, objects: new Objects(store), allocator, ...(gate ? { gate } : {}) });
  } finally {
    unregister();
    await allocator.stop();
    await store.close();
  }
}

function service(name: string, spec: Record<string, unknown> = {}, namespace = "default") {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace },
    spec: { ports: [{ port: 80 }], ...spec },
  };
}

async function create(objects: Objects, svc: ReturnType<typeof service>): Promise<KubeObject> {
  return (await objects.create(SERVICES, svc.metadata.namespace, svc, WRITE)).object;
}

function spec(svc: KubeObject): Record<string, unknown> & {
  clusterIP?: string;
  clusterIPs?: string[];
  ports: Array<{ port: number; protocol: string; nodePort?: number }>;
} {
  return svc.spec as ReturnType<typeof spec>;
}

/** Asserts `promise` rejects with an ApiError of this code (and message, and cause field). */
async function rejectsWith(
  promise: Promise<unknown>,
  code: number,
  message: RegExp,
  field?: string,
): Promise<void> {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof ApiError, `expected an ApiError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    if (field) assert.equal(e.details?.causes?.[0]?.field, field);
    return true;
  });
}

Deno.test("ServiceAllocator gives each Service a usable IP of the range until it is full", async () => {
  await withAllocator({}, async ({ objects, allocator }) => {
    // a /28 has 14 usable addresses; .1 and .10 are kept for kubernetes and kube-dns
    const ips = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const svc = await create(objects, service(`s${i}`));
      const ip = spec(svc).clusterIP!;
      assert.deepEqual(spec(svc).clusterIPs, [ip]);
      assert.deepEqual(svc.spec && spec(svc).ipFamilies, ["IPv4"]);
      assert.equal(spec(svc).ipFamilyPolicy, "SingleStack");
      ips.add(ip);
    }
    assert.equal(ips.size, 12);
    for (const ip of ["10.96.0.0", "10.96.0.1", "10.96.0.10", "10.96.0.15"]) {
      assert.ok(!ips.has(ip), `${ip} is never handed out`);
    }
    assert.ok([...ips].every((ip) => contains(parseCidr("10.96.0.0/28"), requireIPv4(ip))));
    assert.equal(allocator.usedIPs, 14);
    await rejectsWith(
      create(objects, service("one-too-many")),
      500,
      /^Internal error occurred: failed to allocate a serviceIP: range is full$/,
    );
  });
});

Deno.test("ServiceAllocator honours a chosen clusterIP and refuses a taken or foreign one with 422", async () => {
  await withAllocator({}, async ({ objects }) => {
    const chosen = await create(objects, service("chosen", { clusterIP: "10.96.0.5" }));
    assert.deepEqual(spec(chosen).clusterIPs, ["10.96.0.5"]);
    await rejectsWith(
      create(objects, service("again", { clusterIP: "10.96.0.5" })),
      422,
      /^Service "again" is invalid: spec\.clusterIPs: Invalid value: \["10\.96\.0\.5"\]: failed to allocate IP 10\.96\.0\.5: provided IP is already allocated$/,
      "spec.clusterIPs",
    );
    for (const ip of ["10.97.0.5", "10.96.0.0", "10.96.0.15"]) {
      await rejectsWith(
        create(objects, service("outside", { clusterIP: ip })),
        422,
        new RegExp(
          `failed to allocate IP ${ip}: the provided IP \\(${ip}\\) is not in the valid range\\. The range of valid IPs is 10\\.96\\.0\\.0/28$`,
        ),
        "spec.clusterIPs",
      );
    }
    await rejectsWith(
      create(objects, service("bad", { clusterIP: "10.96.0.300" })),
      422,
      /spec\.clusterIPs\[0\]: Invalid value: "10\.96\.0\.300": must be a valid IP address/,
      "spec.clusterIPs[0]",
    );
    await rejectsWith(
      create(objects, service("squatter", { clusterIP: "10.96.0.1" })),
      422,
      /failed to allocate IP 10\.96\.0\.1: provided IP is already allocated/,
    );
    const kubernetes = await create(objects, service("kubernetes", { clusterIP: "10.96.0.1" }));
    assert.equal(spec(kubernetes).clusterIP, "10.96.0.1", "a kept address goes to its Service");
    const dns = await create(
      objects,
      service("kube-dns", { clusterIP: "10.96.0.10" }, "kube-system"),
    );
    assert.equal(spec(dns).clusterIP, "10.96.0.10");
  });
});

Deno.test("ServiceAllocator gives headless and ExternalName Services no IP", async () => {
  await withAllocator({}, async ({ objects, allocator }) => {
    const headless = await create(objects, service("headless", { clusterIP: "None" }));
    assert.deepEqual(spec(headless).clusterIPs, ["None"]);
    const external = await create(
      objects,
      service("ext", { type: "ExternalName", externalName: "example.com" }),
    );
    assert.equal(spec(external).clusterIP, undefined);
    assert.equal(allocator.usedIPs, 2, "only the two kept addresses");
    await rejectsWith(
      create(
        objects,
        service("ext2", { type: "ExternalName", externalName: "a.b", clusterIP: "10.96.0.3" }),
      ),
      422,
      /spec\.clusterIPs: Forbidden: may not be set for ExternalName services/,
    );
    await rejectsWith(
      create(objects, service("np", { type: "NodePort", clusterIP: "None" })),
      422,
      /may not be set to 'None' for NodePort services/,
    );
  });
});

Deno.test("ServiceAllocator gives NodePort Services node ports and honours chosen ones", async () => {
  await withAllocator({}, async ({ objects, allocator }) => {
    const np = await create(objects, service("np", { type: "NodePort" }));
    const port = spec(np).ports[0]!.nodePort!;
    assert.ok(port >= 30000 && port <= 30009, `${port} in 30000-30009`);
    assert.ok(allocator.hasNodePort(port));
    // a free port of the small range (the random pick may have taken 30005)
    const free = port === 30005 ? 30004 : 30005;
    const chosen = await create(
      objects,
      service("chosen", { type: "NodePort", ports: [{ port: 80, nodePort: free }] }),
    );
    assert.equal(spec(chosen).ports[0]!.nodePort, free);
    await rejectsWith(
      create(
        objects,
        service("taken", { type: "NodePort", ports: [{ port: 80, nodePort: free }] }),
      ),
      422,
      new RegExp(
        `^Service "taken" is invalid: spec\\.ports\\[0\\]\\.nodePort: Invalid value: ${free}: provided port is already allocated$`,
      ),
      "spec.ports[0].nodePort",
    );
    await rejectsWith(
      create(objects, service("far", { type: "NodePort", ports: [{ port: 80, nodePort: 31000 }] })),
      422,
      /spec\.ports\[0\]\.nodePort: Invalid value: 31000: provided port is not in the valid range\. The range of valid ports is 30000-30009$/,
    );
    assert.equal(allocator.usedNodePorts, 2, "refused requests took nothing");
  });
});

Deno.test("ServiceAllocator lets TCP and UDP ports of one Service share a node port", async () => {
  await withAllocator({}, async ({ objects, allocator }) => {
    const dns = await create(
      objects,
      service("dns", {
        type: "NodePort",
        ports: [{ name: "udp", port: 53, protocol: "UDP" }, { name: "tcp", port: 53 }],
      }),
    );
    const [udp, tcp] = spec(dns).ports;
    assert.equal(udp!.nodePort, tcp!.nodePort, "one node port for 53/UDP and 53/TCP");
    const chosen = await create(
      objects,
      service("chosen", {
        type: "NodePort",
        ports: [
          { name: "a", port: 80, nodePort: 30007 },
          { name: "b", port: 81, protocol: "UDP", nodePort: 30007 },
        ],
      }),
    );
    assert.deepEqual(spec(chosen).ports.map((p) => p.nodePort), [30007, 30007]);
    assert.equal(allocator.usedNodePorts, 2);
    await rejectsWith(
      create(
        objects,
        service("dup", {
          type: "NodePort",
          ports: [{ name: "a", port: 80, nodePort: 30008 }, {
            name: "b",
            port: 81,
            nodePort: 30008,
          }],
        }),
      ),
      422,
      /spec\.ports\[1\]\.nodePort: Duplicate value: 30008/,
    );
    assert.equal(allocator.usedNodePorts, 2);
  });
});

Deno.test("ServiceAllocator gives LoadBalancers node ports unless allocateLoadBalancerNodePorts is false", async () => {
  await withAllocator({}, async ({ objects }) => {
    const lb = await create(objects, service("lb", { type: "LoadBalancer" }));
    assert.ok(spec(lb).ports[0]!.nodePort);
    const bare = await create(
      objects,
      service("bare", { type: "LoadBalancer", allocateLoadBalancerNodePorts: false }),
    );
    assert.equal(spec(bare).ports[0]!.nodePort, undefined);
  });
});

Deno.test("ServiceAllocator reports a full node port range as a 500", async () => {
  await withAllocator({ nodePortRange: "30000-30001" }, async ({ objects }) => {
    await create(objects, service("a", { type: "NodePort" }));
    await create(objects, service("b", { type: "NodePort" }));
    await rejectsWith(
      create(objects, service("c", { type: "NodePort" })),
      500,
      /failed to allocate a nodePort: range is full/,
    );
  });
});

Deno.test("ServiceAllocator keeps the clusterIP immutable on update, and keeps what a body leaves out", async () => {
  await withAllocator({}, async ({ objects }) => {
    const svc = await create(objects, service("web", { type: "NodePort" }));
    const { clusterIP } = spec(svc);
    const nodePort = spec(svc).ports[0]!.nodePort;
    await rejectsWith(
      objects.update(SERVICES, "default", "web", service("web", { clusterIP: "10.96.0.3" }), WRITE),
      422,
      /spec\.clusterIP: Invalid value: "10\.96\.0\.3": field is immutable/,
      "spec.clusterIP",
    );
    // a PUT of the original manifest (no clusterIP, no nodePort) keeps both
    const put = await objects.update(
      SERVICES,
      "default",
      "web",
      service("web", { type: "NodePort", ports: [{ port: 80 }] }),
      WRITE,
    );
    assert.equal(spec(put.object).clusterIP, clusterIP);
    assert.equal(spec(put.object).ports[0]!.nodePort, nodePort);
  });
});

Deno.test("ServiceAllocator allocates and frees node ports and IPs as the type changes", async () => {
  await withAllocator({}, async ({ objects, allocator }) => {
    const svc = await create(objects, service("web"));
    const ip = spec(svc).clusterIP!;
    const patch = (body: unknown) =>
      objects.patch(SERVICES, "default", "web", "application/merge-patch+json", body, WRITE);

    const np = await patch({ spec: { type: "NodePort" } });
    const nodePort = spec(np.object).ports[0]!.nodePort!;
    assert.ok(nodePort >= 30000);
    assert.equal(spec(np.object).clusterIP, ip);

    const back = await patch({ spec: { type: "ClusterIP" } });
    assert.equal(spec(back.object).ports[0]!.nodePort, undefined, "the node port is dropped");
    assert.equal(spec(back.object).externalTrafficPolicy, undefined);
    await allocator.observed(Number(back.object.metadata.resourceVersion));
    assert.ok(!allocator.hasNodePort(nodePort), "and freed once the change is seen");

    const ext = await patch({ spec: { type: "ExternalName", externalName: "example.com" } });
    assert.equal(spec(ext.object).clusterIP, undefined, "ExternalName drops the IP");
    await allocator.observed(Number(ext.object.metadata.resourceVersion));
    assert.ok(!allocator.hasIP(ip));

    const again = await patch({ spec: { type: "ClusterIP", externalName: null } });
    assert.ok(spec(again.object).clusterIP, "back from ExternalName: a new IP");
  });
});

Deno.test("ServiceAllocator after a restart sees every allocation made before", async () => {
  const kv = await storeWithNamespaces();
  const options = {
    store: kv,
    serviceCidr: parseCidr("10.96.0.0/28"),
    nodePorts: parsePortRange("30000-30004"),
  };
  try {
    const first = new ServiceAllocator(options);
    let unregister = registerAdmission(kv, SERVICES, first.admission());
    await first.start();
    const objects = new Objects(kv);
    const before = new Set<string>();
    for (let i = 0; i < 7; i++) {
      const type = i < 5 ? "NodePort" : "ClusterIP";
      const svc = await create(objects, service(`s${i}`, { type }));
      before.add(spec(svc).clusterIP!);
    }
    unregister();
    await first.stop();

    const second = new ServiceAllocator(options);
    unregister = registerAdmission(kv, SERVICES, second.admission());
    await second.start();
    try {
      assert.equal(second.usedIPs, 7);
      assert.equal(second.usedNodePorts, 5);
      const taken = [...before][0]!;
      await rejectsWith(
        create(objects, service("dup", { clusterIP: taken })),
        422,
        /provided IP is already allocated/,
      );
      await rejectsWith(
        create(objects, service("np", { type: "NodePort" })),
        500,
        /failed to allocate a nodePort: range is full/,
      );
      const ips = new Set(before);
      for (let i = 0; i < 7; i++) {
        const svc = await create(objects, service(`t${i}`));
        assert.ok(!ips.has(spec(svc).clusterIP!), "no address is handed out twice");
        ips.add(spec(svc).clusterIP!);
      }
      await rejectsWith(create(objects, service("full")), 500, /range is full/);
    } finally {
      unregister();
      await second.stop();
    }
  } finally {
    await kv.close();
  }
});

Deno.test("ServiceAllocator never gives concurrent creates the same IP", async () => {
  await withAllocator({}, async ({ objects, store }) => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => create(objects, service(`c${i}`))),
    );
    const created = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    assert.equal(created.length, 12, "12 free addresses in the /28");
    for (const r of refused) assert.match(String(r.reason), /range is full/);
    const { items } = await store.list("/core/services/");
    const ips = items.map((svc) => spec(svc).clusterIP);
    assert.equal(new Set(ips).size, 12, `distinct: ${ips}`);
  });
});

Deno.test("ServiceAllocator gives back what a failed or dry-run create reserved", async () => {
  await withAllocator({}, async ({ objects, allocator }) => {
    await create(objects, service("web"));
    const used = allocator.usedIPs;
    await rejectsWith(
      create(objects, service("web", { clusterIP: "10.96.0.7" })),
      409,
      /already exists/,
    );
    assert.ok(!allocator.hasIP("10.96.0.7"), "the failed create's IP is free at once");
    const dry = await objects.create(SERVICES, "default", service("dry", { type: "NodePort" }), {
      ...WRITE,
      dryRun: true,
    });
    assert.ok(spec(dry.object).clusterIP, "a dry run shows an IP");
    assert.equal(allocator.usedIPs, used, "but keeps none");
    assert.equal(allocator.usedNodePorts, 0);
    const taken = await create(objects, service("other", { clusterIP: "10.96.0.7" }));
    assert.equal(spec(taken).clusterIP, "10.96.0.7");
  });
});

Deno.test("ServiceAllocator frees a deleted Service's IP only once it has seen the deletion", async () => {
  await withAllocator({ gated: true }, async ({ objects, allocator, gate }) => {
    for (let i = 0; i < 12; i++) await create(objects, service(`s${i}`));
    const victim = await objects.get(SERVICES, "default", "s0");
    gate!.pause();
    const deleted = await objects.delete(SERVICES, "default", "s0", { dryRun: false });
    assert.ok(deleted.deleted);
    assert.ok(allocator.hasIP(spec(victim).clusterIP!), "not seen yet: still taken");
    await rejectsWith(create(objects, service("early")), 500, /range is full/);
    gate!.resume();
    await allocator.observed(Number(deleted.object.metadata.resourceVersion));
    const late = await create(objects, service("late"));
    assert.equal(spec(late).clusterIP, spec(victim).clusterIP);
  });
});

Deno.test("prepareServiceUpdate() keeps allocated values a body leaves out", () => {
  const old = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web" },
    spec: {
      type: "NodePort",
      clusterIP: "10.96.0.9",
      clusterIPs: ["10.96.0.9"],
      ports: [{ name: "http", port: 80, nodePort: 30001 }, {
        name: "alt",
        port: 81,
        nodePort: 30002,
      }],
    },
  };
  const body = {
    spec: { type: "NodePort", ports: [{ name: "alt", port: 81 }, { name: "http", port: 80 }] },
  };
  prepareServiceUpdate(old, body);
  assert.deepEqual(body.spec, {
    type: "NodePort",
    clusterIP: "10.96.0.9",
    clusterIPs: ["10.96.0.9"],
    ports: [{ name: "alt", port: 81, nodePort: 30002 }, {
      name: "http",
      port: 80,
      nodePort: 30001,
    }],
  });
});

Deno.test("prepareServiceUpdate() drops what the new type does not use, unless the client changed it", () => {
  const old = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web" },
    spec: {
      type: "LoadBalancer",
      clusterIP: "10.96.0.9",
      clusterIPs: ["10.96.0.9"],
      externalTrafficPolicy: "Cluster",
      allocateLoadBalancerNodePorts: true,
      ports: [{ port: 80, nodePort: 30001 }],
    },
  };
  const toClusterIP = structuredClone(old) as { spec: Record<string, unknown> };
  toClusterIP.spec.type = "ClusterIP";
  prepareServiceUpdate(old, toClusterIP);
  assert.deepEqual(toClusterIP.spec, {
    type: "ClusterIP",
    clusterIP: "10.96.0.9",
    clusterIPs: ["10.96.0.9"],
    ports: [{ port: 80 }],
  });
  const toExternal = structuredClone(old) as { spec: Record<string, unknown> };
  toExternal.spec.type = "ExternalName";
  prepareServiceUpdate(old, toExternal);
  assert.equal(toExternal.spec.clusterIP, undefined);
  assert.equal(toExternal.spec.clusterIPs, undefined);
  const changed = structuredClone(old) as { spec: Record<string, unknown> };
  changed.spec.type = "ExternalName";
  changed.spec.clusterIP = "10.96.0.3";
  prepareServiceUpdate(old, changed);
  assert.equal(changed.spec.clusterIP, "10.96.0.3", "a changed value is left for validation");
});

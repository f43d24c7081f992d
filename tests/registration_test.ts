import assert from "node:assert/strict";
import { startControlPlane } from "../control/server.ts";
import { ApiClient } from "../node/api_client.ts";
import { type MachineInfo, nodeObject } from "../node/node_status.ts";
import { NodeHeartbeat } from "../node/registration.ts";
import { SERVING_CA_ANNOTATION } from "../net/pki.ts";
import { FakeClock } from "../storage/clock.ts";

const MACHINE: MachineInfo = {
  hostname: "gw",
  cpus: 2,
  memoryBytes: 4 * 1024 ** 3,
  kernelVersion: "6.1.0",
  osImage: "Debian GNU/Linux 12 (bookworm)",
  architecture: "x86_64",
  machineId: "m1",
  bootId: "b1",
  internalIp: "10.0.0.5",
};

Deno.test("NodeHeartbeat registers the Node, renews its Lease every 10 s and posts status only on change", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "edge-heartbeat-" });
  const cp = await startControlPlane({ dataDir, listen: "127.0.0.1:0" });
  const client = new ApiClient({ server: cp.url, token: cp.token, caCert: cp.caCert });
  const clock = new FakeClock(Date.parse("2026-11-21T10:00:00Z"));
  let cpus = 2;
  const heartbeat = new NodeHeartbeat({
    client,
    nodeName: "edge-1",
    clock,
    node: (now) =>
      nodeObject({ ...MACHINE, cpus }, {
        name: "edge-1",
        labels: { "edge.io/site": "lab" },
        containerRuntimeVersion: "podman://4.3.1",
        agentPort: 10250,
        version: "v1.32.0-edge",
      }, now),
  });
  try {
    await heartbeat.start();
    const node = await client.get("/api/v1/nodes/edge-1");
    assert.ok(node);
    assert.equal(node.metadata.labels?.["kubernetes.io/hostname"], "edge-1");
    assert.equal(node.metadata.labels?.["kubernetes.io/arch"], "amd64");
    assert.equal(node.metadata.labels?.["edge.io/site"], "lab");
    const status = node.status as {
      capacity: Record<string, string>;
      conditions: Array<{ type: string; status: string; lastTransitionTime: string }>;
    };
    assert.deepEqual(status.capacity, { cpu: "2", memory: "4194304Ki", pods: "110" });
    const ready = status.conditions.find((c) => c.type === "Ready");
    assert.equal(ready?.status, "True");
    const leasePath = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-1";
    const lease1 = await client.get(leasePath);
    assert.equal((lease1?.spec as { holderIdentity: string }).holderIdentity, "edge-1");
    assert.equal((lease1?.spec as { renewTime: string }).renewTime, "2026-11-21T10:00:00.000000Z");

    await clock.advance(10_000);
    const deadline = Date.now() + 5000;
    let lease2 = await client.get(leasePath);
    while ((lease2?.spec as { renewTime: string }).renewTime.startsWith("2026-11-21T10:00:00")) {
      if (Date.now() > deadline) throw new Error("lease was not renewed");
      await new Promise((r) => setTimeout(r, 20));
      lease2 = await client.get(leasePath);
    }
    assert.equal((lease2?.spec as { renewTime: string }).renewTime, "2026-11-21T10:00:10.000000Z");
    const unchanged = await client.get("/api/v1/nodes/edge-1");
    assert.equal(unchanged?.metadata.resourceVersion, node.metadata.resourceVersion);

    cpus = 4;
    await heartbeat.beat();
    const changed = await client.get("/api/v1/nodes/edge-1");
    const changedStatus = changed?.status as typeof status;
    assert.equal(changedStatus.capacity.cpu, "4");
    assert.equal(
      changedStatus.conditions.find((c) => c.type === "Ready")?.lastTransitionTime,
      ready?.lastTransitionTime,
      "an unchanged condition keeps its transition time",
    );

    // The node controller lost touch and marked the node Unknown: the next beat corrects it.
    const conditions = changedStatus.conditions.map((c) =>
      c.type === "Ready" ? { ...c, status: "Unknown", reason: "NodeStatusUnknown" } : c
    );
    await client.patch("/api/v1/nodes/edge-1/status", { status: { conditions } });
    await clock.advance(1_000);
    await heartbeat.beat();
    const corrected = await client.get("/api/v1/nodes/edge-1");
    const back = (corrected?.status as typeof status).conditions.find((c) => c.type === "Ready");
    assert.equal(back?.status, "True", "posted again although the agent's own view never changed");
  } finally {
    await heartbeat.stop();
    client.close();
    await cp.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("NodeHeartbeat of a restarted agent publishes its serving CA, keeping others' annotations", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "edge-heartbeat-" });
  const cp = await startControlPlane({ dataDir, listen: "127.0.0.1:0" });
  const client = new ApiClient({ server: cp.url, token: cp.token, caCert: cp.caCert });
  const clock = new FakeClock(Date.parse("2026-11-21T10:00:00Z"));
  const heartbeat = (servingCa: string) =>
    new NodeHeartbeat({
      client,
      nodeName: "edge-1",
      clock,
      node: (now) =>
        nodeObject(MACHINE, {
          name: "edge-1",
          labels: {},
          containerRuntimeVersion: "podman://4.3.1",
          agentPort: 10250,
          servingCa,
          version: "v1.32.0-edge",
        }, now),
    });
  const first = heartbeat("CA 1");
  const second = heartbeat("CA 2");
  try {
    await first.start();
    await first.stop();
    const annotations = () =>
      client.get("/api/v1/nodes/edge-1").then((n) => n?.metadata.annotations ?? {});
    assert.equal((await annotations())[SERVING_CA_ANNOTATION], "CA 1");
    await client.patch("/api/v1/nodes/edge-1", { metadata: { annotations: { "team": "edge" } } });
    await second.start();
    assert.deepEqual(await annotations(), { [SERVING_CA_ANNOTATION]: "CA 2", team: "edge" });
  } finally {
    await second.stop();
    client.close();
    await cp.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

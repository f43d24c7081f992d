/**
 * Edge autonomy across an agent restart, against a real control plane (in this process) with
 * the in-memory runtime: the restarted agent resumes its pods watch from the resourceVersion it
 * kept in its local cache, without listing, and catches up on what changed while it was away.
 */

import assert from "node:assert/strict";
import { startControlPlane } from "../control/server.ts";
import { Agent } from "../node/agent.ts";
import { ApiClient } from "../node/api_client.ts";
import { FakeRuntime } from "../node/fake_runtime.ts";
import { until } from "./_e2e.ts";

const NODE = "edge-resume";
const IMAGE = "localhost/edge-test:1";
const PODS = "/api/v1/namespaces/default/pods";

function pod(name: string) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      nodeName: NODE,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "c", image: IMAGE, imagePullPolicy: "Never" }],
    },
  };
}

Deno.test("a restarted Agent resumes its pods watch from the kept resourceVersion, without a list; it says when its pods are quiet", async () => {
  const root = await Deno.makeTempDir({ prefix: "edge-agent-resume-" });
  const cp = await startControlPlane({ dataDir: `${root}/cp`, listen: "127.0.0.1:0" });
  const client = new ApiClient({ server: cp.url, token: cp.token, caCert: cp.caCert });
  // the containers outlive the agent, as podman's do
  const runtime = new FakeRuntime();
  runtime.images.add(IMAGE);
  const agent = () =>
    new Agent({
      server: cp.url,
      token: cp.token,
      caCert: cp.caCert,
      nodeName: NODE,
      dataDir: `${root}/agent`,
      listen: { hostname: "127.0.0.1", port: 0 },
      nodeIp: "127.0.0.1",
      runtime,
      relistMs: 100,
      whenPodsQuiet: { quietMs: 500, call: () => quietCalls++ },
    });
  const running = async (name: string) => {
    const p = await client.get(`${PODS}/${name}`);
    const status = p?.status as { phase?: string } | undefined;
    return status?.phase === "Running" ? p : undefined;
  };
  let quietCalls = 0;
  let current: Agent | undefined = agent();
  try {
    await current.start();
    await client.create(PODS, pod("kept"));
    await client.create(PODS, pod("gone"));
    await until(
      "both pods Running",
      async () => (await running("kept")) && (await running("gone")) ? true : undefined,
    );
    assert.equal(current.podsWatch.lists, 1, "the first start lists its pods");
    const keptIds =
      (await runtime.listContainers((await client.get(`${PODS}/kept`))!.metadata.uid!))
        .map((c) => c.id);
    await current.stop();
    current = undefined;

    // while the agent is away: one pod more, one deleted
    await client.create(PODS, pod("new"));
    await client.delete(`${PODS}/gone`);

    quietCalls = 0;
    current = agent();
    await current.start();
    await until("the new pod Running", () => running("new"));
    await until(
      "the deleted pod finalized",
      async () => (await client.get(`${PODS}/gone`)) === null ? true : undefined,
    );
    assert.equal(current.podsWatch.lists, 0, "resumed from the kept resourceVersion");
    assert.notEqual(current.podsWatch.resourceVersion, "");
    const kept = (await client.get(`${PODS}/kept`))!;
    assert.deepEqual(
      (await runtime.listContainers(kept.metadata.uid!)).map((c) => c.id),
      keptIds,
      "the running pod's container was adopted, not recreated",
    );
    // half a second after the last pod change (its own status updates included)
    await until("the pods-quiet call", async () => quietCalls > 0 ? true : undefined);
  } finally {
    await current?.stop();
    client.close();
    await cp.stop();
    await Deno.remove(root, { recursive: true });
  }
});

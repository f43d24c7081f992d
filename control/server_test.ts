import assert from "node:assert/strict";
import { parseListen, startControlPlane } from "./server.ts";
import { parseYamlDocuments } from "../storage/yaml.ts";

Deno.test("parseListen() splits host and port and rejects malformed addresses", () => {
  assert.deepEqual(parseListen("127.0.0.1:6443"), { hostname: "127.0.0.1", port: 6443 });
  assert.deepEqual(parseListen("[::1]:0"), { hostname: "::1", port: 0 });
  for (const bad of ["6443", "host:", ":80", "a:b", "1.2.3.4:70000", "[::1]"]) {
    assert.throws(() => parseListen(bad), /HOST:PORT/, bad);
  }
});

Deno.test("startControlPlane() serves HTTPS with its own CA, locks the data dir and keeps state across restarts", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "edge-server-test-" });
  try {
    const first = await startControlPlane({ dataDir, listen: "127.0.0.1:0" });
    let client: Deno.HttpClient | undefined;
    try {
      assert.match(first.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const kubeconfig = parseYamlDocuments(await Deno.readTextFile(first.kubeconfigPath))[0] as {
        clusters: Array<{ cluster: { server: string; "certificate-authority-data": string } }>;
        users: Array<{ user: { token: string } }>;
      };
      assert.equal(kubeconfig.clusters[0]!.cluster.server, first.url);
      assert.equal(kubeconfig.users[0]!.user.token, first.token);
      const ca = atob(kubeconfig.clusters[0]!.cluster["certificate-authority-data"]);
      client = Deno.createHttpClient({ caCerts: [ca] });
      const headers = { authorization: `Bearer ${first.token}` };
      const res = await fetch(`${first.url}/api/v1/namespaces/default/configmaps`, {
        client,
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "kept" } }),
      });
      assert.equal(res.status, 201);
      await res.body?.cancel();
      await assert.rejects(
        startControlPlane({ dataDir, listen: "127.0.0.1:0" }),
        /in use by another edge process/,
      );
    } finally {
      client?.close();
      await first.stop();
    }

    const second = await startControlPlane({ dataDir, listen: "127.0.0.1:0" });
    const client2 = Deno.createHttpClient({ caCerts: [second.caCert] });
    try {
      assert.equal(second.token, first.token, "the admin token survives a restart");
      const res = await fetch(`${second.url}/api/v1/namespaces/default/configmaps/kept`, {
        client: client2,
        headers: { authorization: `Bearer ${second.token}` },
      });
      assert.equal(res.status, 200);
      const cm = await res.json();
      assert.equal(cm.metadata.name, "kept");
      const ns = await fetch(`${second.url}/api/v1/namespaces`, {
        client: client2,
        headers: { authorization: `Bearer ${second.token}` },
      });
      const names = (await ns.json()).items.map((n: { metadata: { name: string } }) =>
        n.metadata.name
      );
      assert.deepEqual(names, ["default", "kube-node-lease", "kube-public", "kube-system"]);
    } finally {
      client2.close();
      await second.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

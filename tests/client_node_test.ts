/**
 * Compatibility tests: `@kubernetes/client-node` (the official JavaScript client) against a
 * running `mod.ts up`, configured only from the kubeconfig the server wrote.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { withCluster } from "./_harness.ts";

/** These tests need the API only: no agent, so the workloads they create run nowhere. */
const API_ONLY = { mode: "server" } as const;

interface SeenEvent {
  type: string;
  name: string;
  data: Record<string, string> | undefined;
}

Deno.test({
  name: "client-node CoreV1Api creates, reads, lists and watches ConfigMaps",
  fn: withCluster(async (cluster, t) => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    assert.equal(kc.getCurrentCluster()?.server, cluster.url);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const namespace = "default";

    await t.step("createNamespacedConfigMap returns the stored object", async () => {
      for (const [name, app] of [["web-1", "web"], ["web-2", "web"], ["db-1", "db"]] as const) {
        const created = await core.createNamespacedConfigMap({
          namespace,
          body: { metadata: { name, labels: { app } }, data: { name } },
        });
        assert.equal(created.metadata?.name, name);
        assert.equal(created.metadata?.namespace, namespace);
        assert.match(created.metadata?.resourceVersion ?? "", /^\d+$/);
        assert.ok(created.metadata?.uid, "created object has a uid");
        assert.deepEqual(created.data, { name });
      }
    });

    await t.step("readNamespacedConfigMap of a missing name throws ApiException 404", async () => {
      await assert.rejects(
        core.readNamespacedConfigMap({ name: "missing", namespace }),
        (error: unknown) => {
          assert.ok(error instanceof k8s.ApiException, `not an ApiException: ${error}`);
          assert.equal(error.code, 404);
          const body = typeof error.body === "string" ? JSON.parse(error.body) : error.body;
          assert.equal(body.kind, "Status");
          assert.equal(body.reason, "NotFound");
          return true;
        },
      );
    });

    await t.step("listNamespacedConfigMap with labelSelector lists only matches", async () => {
      const list = await core.listNamespacedConfigMap({ namespace, labelSelector: "app=web" });
      assert.deepEqual(list.items.map((cm) => cm.metadata?.name).sort(), ["web-1", "web-2"]);
      assert.match(list.metadata?.resourceVersion ?? "", /^\d+$/);
      const notWeb = await core.listNamespacedConfigMap({ namespace, labelSelector: "app!=web" });
      assert.ok(notWeb.items.every((cm) => cm.metadata?.labels?.app !== "web"));
      assert.ok(notWeb.items.some((cm) => cm.metadata?.name === "db-1"));
    });

    await t.step("Watch sees ADDED, MODIFIED and DELETED made by other requests", async () => {
      const list = await core.listNamespacedConfigMap({ namespace });
      const events: SeenEvent[] = [];
      const deleted = Promise.withResolvers<void>();
      const ended = Promise.withResolvers<unknown>();
      const watch = new k8s.Watch(kc);
      const controller = await watch.watch(
        `/api/v1/namespaces/${namespace}/configmaps`,
        { resourceVersion: list.metadata?.resourceVersion },
        (type, obj: k8s.V1ConfigMap) => {
          if (obj.metadata?.name !== "watched") return;
          events.push({ type, name: obj.metadata.name, data: obj.data });
          if (type === "DELETED") deleted.resolve();
        },
        (error) => ended.resolve(error),
      );
      const timeout = setTimeout(
        () => deleted.reject(new Error(`watch saw only ${JSON.stringify(events)} within 20 s`)),
        20_000,
      );
      try {
        const base = `/api/v1/namespaces/${namespace}/configmaps`;
        const created = await cluster.request("POST", base, {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "watched" },
          data: { step: "1" },
        });
        assert.equal(created.status, 201, created.text);
        const patched = await cluster.request(
          "PATCH",
          `${base}/watched`,
          { data: { step: "2" } },
          { "content-type": "application/merge-patch+json" },
        );
        assert.equal(patched.status, 200, patched.text);
        const removed = await cluster.request("DELETE", `${base}/watched`);
        assert.equal(removed.status, 200, removed.text);
        await deleted.promise;
      } finally {
        clearTimeout(timeout);
        controller.abort();
        // Under Deno, client-node does not call `done` after a client-side abort (under Node
        // it does); the sanitizers still check that the connection is closed.
        let grace: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          ended.promise,
          new Promise((resolve) => grace = setTimeout(resolve, 1_000)),
        ]);
        clearTimeout(grace);
      }
      assert.deepEqual(events, [
        { type: "ADDED", name: "watched", data: { step: "1" } },
        { type: "MODIFIED", name: "watched", data: { step: "2" } },
        { type: "DELETED", name: "watched", data: { step: "2" } },
      ]);
    });

    await t.step(
      "replaceNamespacedConfigMap with a stale resourceVersion is a 409 Conflict",
      async () => {
        const current = await core.readNamespacedConfigMap({ name: "web-1", namespace });
        const updated = await core.replaceNamespacedConfigMap({
          name: "web-1",
          namespace,
          body: { ...current, data: { name: "web-1", v: "2" } },
        });
        assert.notEqual(updated.metadata?.resourceVersion, current.metadata?.resourceVersion);
        await assert.rejects(
          core.replaceNamespacedConfigMap({
            name: "web-1",
            namespace,
            body: { ...current, data: { name: "web-1", v: "3" } },
          }),
          (error: unknown) => error instanceof k8s.ApiException && error.code === 409,
        );
        const after = await core.readNamespacedConfigMap({ name: "web-1", namespace });
        assert.deepEqual(after.data, { name: "web-1", v: "2" });
      },
    );
  }, API_ONLY),
});

Deno.test({
  name: "client-node reads the default StorageClass and creates a claim that gets it",
  fn: withCluster(async (cluster) => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const storage = kc.makeApiClient(k8s.StorageV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const classes = await storage.listStorageClass();
    const local = classes.items.find((sc) => sc.metadata?.name === "local-path");
    assert.equal(local?.provisioner, "edge.io/local-path");
    assert.equal(local?.volumeBindingMode, "WaitForFirstConsumer");
    assert.equal(
      local?.metadata?.annotations?.["storageclass.kubernetes.io/is-default-class"],
      "true",
    );
    const claim = await core.createNamespacedPersistentVolumeClaim({
      namespace: "default",
      body: {
        metadata: { name: "data" },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
      },
    });
    assert.equal(claim.spec?.storageClassName, "local-path");
    assert.deepEqual(claim.metadata?.finalizers, ["kubernetes.io/pvc-protection"]);
    assert.equal(claim.status?.phase, "Pending");
    const volume = await core.createPersistentVolume({
      body: {
        metadata: { name: "manual-1" },
        spec: {
          capacity: { storage: "1Gi" },
          accessModes: ["ReadWriteOnce"],
          hostPath: { path: "/srv/manual-1" },
        },
      },
    });
    assert.equal(volume.spec?.persistentVolumeReclaimPolicy, "Retain");
    assert.deepEqual(volume.metadata?.finalizers, ["kubernetes.io/pv-protection"]);
  }, API_ONLY),
});

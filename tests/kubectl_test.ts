/**
 * Acceptance tests: stock kubectl (no `--validate` flag) against a running `mod.ts up`.
 *
 * Each Deno.test starts its own cluster; each step is one acceptance criterion and leaves the
 * objects it made in a namespace of its own or names of its own, so a failed step does not
 * cascade into the next.
 *
 * @module
 */

import assert from "node:assert/strict";
import { assertOk, type Cluster, kubectlSkipReason, withCluster } from "./_harness.ts";

/** These tests need the API only: no agent, so the workloads they create run nowhere. */
const API_ONLY = { mode: "server" } as const;

const IGNORE = kubectlSkipReason !== undefined;
if (IGNORE) console.log(`skipping the kubectl tests: ${kubectlSkipReason}`);

/** Asserts a kubectl run succeeded, showing its output when it did not. */
function configMap(name: string, data: Record<string, string>, labels?: Record<string, string>) {
  const labelLines = labels
    ? `  labels:\n${Object.entries(labels).map(([k, v]) => `    ${k}: "${v}"`).join("\n")}\n`
    : "";
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
${labelLines}data:
${Object.entries(data).map(([k, v]) => `  ${k}: "${v}"`).join("\n")}
`;
}

function deployment(name: string, image: string, replicas: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels:
    app: ${name}
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
      - name: ${name}
        image: ${image}
        ports:
        - containerPort: 80
      - name: sidecar
        image: busybox:1.36
        command: ["sleep", "infinity"]
`;
}

async function getJson(cluster: Cluster, args: string[]): Promise<Record<string, unknown>> {
  const stdout = assertOk(await cluster.kubectl([...args, "-o", "json"]), `kubectl get ${args}`);
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** Creates a namespace with `kubectl apply` (setup only; `kubectl create namespace` is a criterion). */
async function createNamespace(cluster: Cluster, name: string): Promise<void> {
  const manifest = `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
  assertOk(
    await cluster.kubectl(["apply", "-f", "-"], { stdin: manifest }),
    `apply namespace ${name}`,
  );
}

Deno.test({
  name: "kubectl apply reports created, unchanged and configured",
  ignore: IGNORE,
  fn: withCluster(async (cluster, t) => {
    await t.step("ConfigMap: created, then unchanged, then configured", async () => {
      const first = configMap("x", { color: "blue" });
      const created = await cluster.kubectl(["apply", "-f", "-"], { stdin: first });
      assert.equal(assertOk(created, "apply (create)").trim(), "configmap/x created");

      const again = await cluster.kubectl(["apply", "-f", "-"], { stdin: first });
      assert.equal(assertOk(again, "apply (same file)").trim(), "configmap/x unchanged");

      const changed = configMap("x", { color: "green", size: "L" });
      const configured = await cluster.kubectl(["apply", "-f", "-"], { stdin: changed });
      assert.equal(assertOk(configured, "apply (changed)").trim(), "configmap/x configured");

      const cm = await getJson(cluster, ["get", "cm", "x"]);
      assert.deepEqual(cm.data, { color: "green", size: "L" });
    });

    await t.step(
      "Deployment: created, unchanged, configured via strategic merge patch",
      async () => {
        const v1 = deployment("web", "nginx:1.26", 2);
        const created = await cluster.kubectl(["apply", "-f", "-"], { stdin: v1 });
        assert.equal(assertOk(created, "apply deployment").trim(), "deployment.apps/web created");

        const again = await cluster.kubectl(["apply", "-f", "-"], { stdin: v1 });
        assert.equal(
          assertOk(again, "apply deployment again").trim(),
          "deployment.apps/web unchanged",
        );

        const v2 = deployment("web", "nginx:1.27", 3);
        const configured = await cluster.kubectl(["apply", "-f", "-", "-v=7"], { stdin: v2 });
        assert.match(
          assertOk(configured, "apply deployment changed"),
          /^deployment\.apps\/web configured$/m,
        );
        assert.match(
          configured.stderr,
          /application\/strategic-merge-patch\+json/,
          `kubectl did not use a strategic merge patch:\n${configured.stderr}`,
        );

        const deploy = await getJson(cluster, ["get", "deployment", "web"]);
        const spec = deploy.spec as {
          replicas: number;
          template: { spec: { containers: { name: string; image: string }[] } };
        };
        assert.equal(spec.replicas, 3);
        assert.deepEqual(
          spec.template.spec.containers.map((c) => [c.name, c.image]),
          [["web", "nginx:1.27"], ["sidecar", "busybox:1.36"]],
        );
      },
    );

    await t.step("Secret stringData is stored base64-encoded in data", async () => {
      const secret = `apiVersion: v1
kind: Secret
metadata:
  name: creds
type: Opaque
stringData:
  password: s3cr3t
  user: admin
`;
      const created = await cluster.kubectl(["apply", "-f", "-"], { stdin: secret });
      assert.equal(assertOk(created, "apply secret").trim(), "secret/creds created");
      const got = await getJson(cluster, ["get", "secret", "creds"]);
      assert.deepEqual(got.data, { password: btoa("s3cr3t"), user: btoa("admin") });
      assert.equal(got.stringData, undefined);
    });

    await t.step(
      "an unknown field fails kubectl's strict validation and creates nothing",
      async () => {
        const bad = `apiVersion: v1
kind: ConfigMap
metadata:
  name: strict
bogus: 1
data:
  a: "1"
`;
        const result = await cluster.kubectl(["apply", "-f", "-"], { stdin: bad });
        assert.notEqual(result.code, 0, `apply with an unknown field succeeded:\n${result.stdout}`);
        assert.match(result.stderr, /unknown field "bogus"/);
        const get = await cluster.kubectl(["get", "cm", "strict"]);
        assert.equal(get.code, 1);
        assert.match(get.stderr, /NotFound/);
      },
    );

    await t.step("an unknown nested field in a Deployment fails strict validation", async () => {
      const bad = deployment("strict-web", "nginx:1.27", 1).replace(
        "        image: nginx:1.27\n",
        "        image: nginx:1.27\n        imagePullPolicyy: Always\n",
      );
      const result = await cluster.kubectl(["apply", "-f", "-"], { stdin: bad });
      assert.notEqual(result.code, 0, `apply with an unknown field succeeded:\n${result.stdout}`);
      assert.match(
        result.stderr,
        /unknown field "(spec\.template\.spec\.containers\[0\]\.)?imagePullPolicyy"/,
      );
    });
  }, API_ONLY),
});

Deno.test({
  name: "kubectl get lists, selects, formats and pages",
  ignore: IGNORE,
  fn: withCluster(async (cluster, t) => {
    await createNamespace(cluster, "listing");
    const manifests = [
      configMap("web-a", { k: "1" }, { app: "web" }),
      configMap("web-b", { k: "1", j: "2" }, { app: "web" }),
      configMap("db", { k: "1" }, { app: "db" }),
    ].join("---\n");
    assertOk(
      await cluster.kubectl(["apply", "-n", "listing", "-f", "-"], { stdin: manifests }),
      "apply listing manifests",
    );

    await t.step("-l app=web lists only the matching ConfigMaps", async () => {
      const out = assertOk(
        await cluster.kubectl(["get", "cm", "-n", "listing", "-l", "app=web", "-o", "name"]),
        "get -l",
      );
      assert.deepEqual(out.trim().split("\n").sort(), ["configmap/web-a", "configmap/web-b"]);
    });

    await t.step("-o json of one ConfigMap parses and has its data", async () => {
      const cm = await getJson(cluster, ["get", "cm", "web-b", "-n", "listing"]);
      assert.equal(cm.kind, "ConfigMap");
      assert.equal(cm.apiVersion, "v1");
      assert.deepEqual(cm.data, { k: "1", j: "2" });
      const meta = cm.metadata as Record<string, unknown>;
      assert.equal(meta.name, "web-b");
      assert.equal(meta.namespace, "listing");
      assert.match(String(meta.resourceVersion), /^\d+$/);
      assert.match(String(meta.uid), /^[0-9a-f-]{36}$/);
    });

    await t.step("the table has NAME DATA AGE headers and one row per object", async () => {
      const out = assertOk(await cluster.kubectl(["get", "cm", "-n", "listing"]), "get cm");
      const lines = out.trimEnd().split("\n");
      assert.match(lines[0] ?? "", /^NAME\s+DATA\s+AGE$/);
      const rows = new Map(
        lines.slice(1).map((l) => {
          const [name, data, age] = l.split(/\s+/);
          return [name, { data, age }];
        }),
      );
      assert.equal(rows.get("web-b")?.data, "2");
      assert.equal(rows.get("db")?.data, "1");
      assert.match(rows.get("db")?.age ?? "", /^\d+s$/);
    });

    await t.step("--chunk-size=2 pages through 5 ConfigMaps with limit and continue", async () => {
      await createNamespace(cluster, "paging");
      const five = Array.from({ length: 5 }, (_, i) => configMap(`page-${i}`, { i: String(i) }));
      assertOk(
        await cluster.kubectl(["apply", "-n", "paging", "-f", "-"], { stdin: five.join("---\n") }),
        "apply 5 ConfigMaps",
      );
      const result = await cluster.kubectl([
        "get",
        "cm",
        "-n",
        "paging",
        "--chunk-size=2",
        "-o",
        "name",
        "-v=6",
      ]);
      const out = assertOk(result, "get --chunk-size=2");
      assert.deepEqual(
        out.trim().split("\n"),
        five.map((_, i) => `configmap/page-${i}`),
      );
      const requests = result.stderr.split("\n").filter((l) => /GET .*\/configmaps\?/.test(l));
      assert.equal(requests.length, 3, `expected 3 page requests:\n${requests.join("\n")}`);
      assert.ok(requests.every((l) => l.includes("limit=2")), requests.join("\n"));
      assert.equal(requests.filter((l) => l.includes("continue=")).length, 2, requests.join("\n"));
    });

    await t.step(
      "get of a missing ConfigMap exits 1 with Error from server (NotFound)",
      async () => {
        const result = await cluster.kubectl(["get", "cm", "nope"]);
        assert.equal(result.code, 1);
        assert.equal(
          result.stderr.trim(),
          'Error from server (NotFound): configmaps "nope" not found',
        );
      },
    );
  }, API_ONLY),
});

Deno.test({
  name: "kubectl get -w prints a change made by another client",
  ignore: IGNORE,
  fn: withCluster(async (cluster) => {
    assertOk(
      await cluster.kubectl(["apply", "-f", "-"], { stdin: configMap("w", { a: "1" }) }),
      "apply w",
    );
    const watch = cluster.spawnKubectl(["get", "cm", "w", "-w"]);
    try {
      await watch.waitFor(/^w\s+1\s+\S+\s*$/m, 30_000);
      const patch = await cluster.kubectl([
        "patch",
        "cm",
        "w",
        "--type=merge",
        "-p",
        '{"data":{"b":"2"}}',
      ]);
      assert.equal(assertOk(patch, "patch w").trim(), "configmap/w patched");
      await watch.waitFor(/^w\s+2\s+\S+\s*$/m, 30_000);
    } finally {
      await watch.stop();
    }
  }, API_ONLY),
});

Deno.test({
  name: "kubectl describe, label, annotate, patch and delete a ConfigMap",
  ignore: IGNORE,
  fn: withCluster(async (cluster, t) => {
    await t.step("describe shows Name, Namespace, Data and an Events section", async () => {
      assertOk(
        await cluster.kubectl(["apply", "-f", "-"], {
          stdin: configMap("d", { greeting: "hello" }),
        }),
        "apply d",
      );
      const out = assertOk(await cluster.kubectl(["describe", "cm", "d"]), "describe cm d");
      assert.match(out, /^Name:\s+d$/m);
      assert.match(out, /^Namespace:\s+default$/m);
      assert.match(out, /^Data\n====\ngreeting:\n----\nhello\n/m);
      assert.match(out, /^Events:\s+/m);
    });

    await t.step("label and annotate report labeled and annotated", async () => {
      assertOk(
        await cluster.kubectl(["apply", "-f", "-"], { stdin: configMap("l", { a: "1" }) }),
        "apply l",
      );
      const labeled = await cluster.kubectl(["label", "cm", "l", "tier=cache"]);
      assert.equal(assertOk(labeled, "label").trim(), "configmap/l labeled");
      const annotated = await cluster.kubectl(["annotate", "cm", "l", "owner=team-a"]);
      assert.equal(assertOk(annotated, "annotate").trim(), "configmap/l annotated");
      const selected = await cluster.kubectl(["get", "cm", "-l", "tier=cache", "-o", "name"]);
      assert.equal(assertOk(selected, "get -l tier=cache").trim(), "configmap/l");
      const cm = await getJson(cluster, ["get", "cm", "l"]);
      const meta = cm.metadata as {
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
      };
      assert.equal(meta.labels?.tier, "cache");
      assert.equal(meta.annotations?.owner, "team-a");
      const unlabeled = await cluster.kubectl(["label", "cm", "l", "tier-"]);
      assert.equal(assertOk(unlabeled, "label tier-").trim(), "configmap/l unlabeled");
    });

    await t.step("patch --type=json, --type=merge and the default strategic patch", async () => {
      assertOk(
        await cluster.kubectl(["apply", "-f", "-"], { stdin: configMap("p", { a: "1" }) }),
        "apply p",
      );
      const json = await cluster.kubectl([
        "patch",
        "cm",
        "p",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/data/b","value":"2"},{"op":"replace","path":"/data/a","value":"10"}]',
      ]);
      assert.equal(assertOk(json, "patch --type=json").trim(), "configmap/p patched");
      const merge = await cluster.kubectl([
        "patch",
        "cm",
        "p",
        "--type=merge",
        "-p",
        '{"data":{"c":"3","b":null}}',
      ]);
      assert.equal(assertOk(merge, "patch --type=merge").trim(), "configmap/p patched");
      const strategic = await cluster.kubectl(["patch", "cm", "p", "-p", '{"data":{"d":"4"}}']);
      assert.equal(assertOk(strategic, "patch (strategic)").trim(), "configmap/p patched");
      assert.deepEqual((await getJson(cluster, ["get", "cm", "p"])).data, {
        a: "10",
        c: "3",
        d: "4",
      });

      const invalid = await cluster.kubectl([
        "patch",
        "cm",
        "p",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/data/missing","value":"x"}]',
      ]);
      assert.equal(invalid.code, 1, `an inapplicable json patch succeeded:\n${invalid.stdout}`);
      assert.match(invalid.stderr, /^(Error from server|The request is invalid)/m);
    });

    await t.step("a strategic patch of a Deployment merges containers by name", async () => {
      assertOk(
        await cluster.kubectl(["apply", "-f", "-"], { stdin: deployment("smp", "nginx:1.26", 1) }),
        "apply deployment smp",
      );
      const patched = await cluster.kubectl([
        "patch",
        "deployment",
        "smp",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"smp","image":"nginx:1.27"}]}}}}',
      ]);
      assert.equal(assertOk(patched, "patch deployment").trim(), "deployment.apps/smp patched");
      const deploy = await getJson(cluster, ["get", "deployment", "smp"]);
      const containers = (deploy.spec as {
        template: { spec: { containers: { name: string; image: string }[] } };
      }).template.spec.containers;
      assert.deepEqual(
        containers.map((c) => [c.name, c.image]),
        [["smp", "nginx:1.27"], ["sidecar", "busybox:1.36"]],
      );
    });

    await t.step('delete prints configmap "x" deleted and get is then NotFound', async () => {
      assertOk(
        await cluster.kubectl(["apply", "-f", "-"], { stdin: configMap("gone", { a: "1" }) }),
        "apply gone",
      );
      const deleted = await cluster.kubectl(["delete", "cm", "gone"]);
      assert.equal(assertOk(deleted, "delete").trim(), 'configmap "gone" deleted');
      const get = await cluster.kubectl(["get", "cm", "gone"]);
      assert.equal(get.code, 1);
      assert.equal(get.stderr.trim(), 'Error from server (NotFound): configmaps "gone" not found');
    });
  }, API_ONLY),
});

Deno.test({
  name: "kubectl discovers resources and manages namespaces",
  ignore: IGNORE,
  fn: withCluster(async (cluster, t) => {
    await t.step("api-resources lists configmaps and deployments", async () => {
      const out = assertOk(await cluster.kubectl(["api-resources"]), "api-resources");
      assert.match(out, /^NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND$/m);
      assert.match(out, /^configmaps\s+cm\s+v1\s+true\s+ConfigMap$/m);
      assert.match(out, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
      assert.match(out, /^namespaces\s+ns\s+v1\s+false\s+Namespace$/m);
    });

    await t.step("create namespace prints created, and AlreadyExists the second time", async () => {
      const created = await cluster.kubectl(["create", "namespace", "team-a"]);
      assert.equal(assertOk(created, "create namespace").trim(), "namespace/team-a created");
      const again = await cluster.kubectl(["create", "namespace", "team-a"]);
      assert.equal(again.code, 1);
      assert.match(
        again.stderr,
        /^Error from server \(AlreadyExists\): namespaces "team-a" already exists/,
      );
    });

    await t.step("get ns shows default, kube-system and a new namespace as Active", async () => {
      await createNamespace(cluster, "team-b");
      const out = assertOk(await cluster.kubectl(["get", "ns"]), "get ns");
      const lines = out.trimEnd().split("\n");
      assert.match(lines[0] ?? "", /^NAME\s+STATUS\s+AGE$/);
      const status = new Map(lines.slice(1).map((l) => l.split(/\s+/) as [string, string]));
      for (const ns of ["default", "kube-system", "team-b"]) {
        assert.equal(status.get(ns), "Active", `namespace ${ns} in:\n${out}`);
      }
    });
  }, API_ONLY),
});

/**
 * End-to-end tests of our CLI (`mod.ts ctl`) against a running `mod.ts up`.
 *
 * Where stock kubectl is installed, every output is compared with what kubectl prints for the
 * same request (twin objects whose names differ only in a prefix, so they do not collide);
 * without kubectl, the outputs are compared with kubectl's known wording.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { assertOk, type CommandResult, hasKubectl, withCluster } from "./_harness.ts";

/** These tests need the API only: no agent, so the workloads they create run nowhere. */
const API_ONLY = { mode: "server" } as const;

function configMap(name: string, data: Record<string, string>, namespace?: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
${namespace ? `  namespace: ${namespace}\n` : ""}  labels:
    app: twin
data:
${Object.entries(data).map(([k, v]) => `  ${k}: "${v}"`).join("\n")}
`;
}

/** Writes a manifest to a file in a temp dir the test removes. */
async function manifestFile(dir: string, name: string, text: string): Promise<string> {
  const path = `${dir}/${name}.yaml`;
  await Deno.writeTextFile(path, text);
  return path;
}

/** Replaces ages (`5s`, `2m3s`, `<unknown>`) so tables printed a second apart compare equal. */
function normalizeAges(table: string): string {
  return table.replace(/(\s)(\d+[smhd])+(\s*)$/gm, "$1AGE$3");
}

/**
 * Runs the same operation through ctl (on `ctl-NAME`) and kubectl (on `kube-NAME`); asserts
 * ctl printed what kubectl printed, or `expected` when kubectl is absent.
 */
async function sameAsKubectl(
  op: (tool: "ctl" | "kubectl", prefix: string) => Promise<CommandResult>,
  expected: (prefix: string) => string,
  normalize: (s: string) => string = (s) => s,
): Promise<void> {
  const ours = await op("ctl", "ctl-");
  const oursText = normalize(ours.stdout.replaceAll("ctl-", "NAME-"));
  if (!hasKubectl) {
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(oursText, normalize(expected("NAME-")));
    return;
  }
  const theirs = await op("kubectl", "kube-");
  assertOk(theirs, "kubectl twin");
  assert.equal(ours.code, theirs.code, `ctl exited ${ours.code}: ${ours.stderr}`);
  assert.equal(oursText, normalize(theirs.stdout.replaceAll("kube-", "NAME-")));
}

Deno.test({
  name: "ctl apply, get, describe and delete print what kubectl prints",
  fn: withCluster(async (cluster, t) => {
    const dir = await Deno.makeTempDir({ prefix: "ctl-e2e-" });
    const tool = (which: "ctl" | "kubectl") => which === "ctl" ? cluster.ctl : cluster.kubectl;
    try {
      const apply = async (
        which: "ctl" | "kubectl",
        prefix: string,
        data: Record<string, string>,
      ) => {
        const file = await manifestFile(dir, `${prefix}x`, configMap(`${prefix}x`, data));
        return await tool(which)(["apply", "-f", file]);
      };

      await t.step("apply prints created, unchanged, then configured", async () => {
        await sameAsKubectl(
          (w, p) => apply(w, p, { a: "1" }),
          (p) => `configmap/${p}x created\n`,
        );
        await sameAsKubectl(
          (w, p) => apply(w, p, { a: "1" }),
          (p) => `configmap/${p}x unchanged\n`,
        );
        await sameAsKubectl(
          (w, p) => apply(w, p, { a: "2", b: "3" }),
          (p) => `configmap/${p}x configured\n`,
        );
        const stored = JSON.parse(
          assertOk(await cluster.ctl(["get", "cm", "ctl-x", "-o", "json"]), "get"),
        );
        assert.deepEqual(stored.data, { a: "2", b: "3" });
      });

      await t.step("get prints the same table as kubectl (NAME DATA AGE)", async () => {
        const ours = assertOk(await cluster.ctl(["get", "cm", "ctl-x"]), "ctl get cm");
        assert.match(ours, /^NAME\s+DATA\s+AGE\n/);
        assert.match(ours, /^ctl-x\s+2\s+\d+s\n$/m);
        if (hasKubectl) {
          const theirs = assertOk(await cluster.kubectl(["get", "cm", "ctl-x"]), "kubectl get cm");
          assert.equal(normalizeAges(ours), normalizeAges(theirs));
          const list = assertOk(await cluster.ctl(["get", "cm", "-l", "app=twin"]), "ctl get -l");
          const kubeList = assertOk(
            await cluster.kubectl(["get", "cm", "-l", "app=twin"]),
            "kubectl get -l",
          );
          assert.equal(normalizeAges(list), normalizeAges(kubeList));
        }
      });

      await t.step("get -o wide prints the same table as kubectl", async () => {
        const ours = assertOk(await cluster.ctl(["get", "ns", "-o", "wide"]), "ctl get ns -o wide");
        assert.match(ours, /^NAME\s+STATUS\s+AGE\n/);
        assert.match(ours, /^default\s+Active\s+/m);
        if (hasKubectl) {
          const theirs = assertOk(
            await cluster.kubectl(["get", "ns", "-o", "wide"]),
            "kubectl get ns -o wide",
          );
          assert.equal(normalizeAges(ours), normalizeAges(theirs));
        }
      });

      await t.step("get -o yaml and -o json print the stored object", async () => {
        const yaml = parseYaml(
          assertOk(await cluster.ctl(["get", "cm", "ctl-x", "-o", "yaml"]), "-o yaml"),
        );
        const json = JSON.parse(
          assertOk(await cluster.ctl(["get", "cm", "ctl-x", "-o", "json"]), "-o json"),
        );
        const raw = await cluster.request("GET", "/api/v1/namespaces/default/configmaps/ctl-x");
        assert.equal(raw.status, 200, raw.text);
        assert.deepEqual(yaml, raw.json);
        assert.deepEqual(json, raw.json);
        if (hasKubectl) {
          const kubeYaml = assertOk(
            await cluster.kubectl(["get", "cm", "ctl-x", "-o", "yaml"]),
            "kubectl -o yaml",
          );
          assert.deepEqual(yaml, parseYaml(kubeYaml));
          const ours = assertOk(
            await cluster.ctl(["get", "cm", "-l", "app=twin", "-o", "json"]),
            "list -o json",
          );
          const theirs = assertOk(
            await cluster.kubectl(["get", "cm", "-l", "app=twin", "-o", "json"]),
            "kubectl list",
          );
          assert.deepEqual(JSON.parse(ours), JSON.parse(theirs));
        }
      });

      await t.step("describe prints what kubectl describe prints", async () => {
        const ours = assertOk(await cluster.ctl(["describe", "cm", "ctl-x"]), "ctl describe");
        assert.match(ours, /^Name:\s+ctl-x$/m);
        assert.match(ours, /^Namespace:\s+default$/m);
        assert.match(ours, /^Labels:\s+app=twin$/m);
        assert.match(ours, /^Data\n====\na:\n----\n2\n/m);
        assert.match(ours, /^Events:\s+/m);
        if (hasKubectl) {
          const theirs = assertOk(
            await cluster.kubectl(["describe", "cm", "ctl-x"]),
            "kubectl describe",
          );
          // kubectl describe prints ConfigMap keys in Go map order (random): compare the
          // Data section as a set of key blocks.
          assert.equal(sortDataBlocks(ours), sortDataBlocks(theirs));
        }
      });

      await t.step("get -w prints a change made by another client", async () => {
        const watch = cluster.spawnCtl(["get", "cm", "ctl-x", "-w"]);
        try {
          await watch.waitFor(/^ctl-x\s+2\s+\S+\s*$/m, 30_000);
          const patched = await cluster.request(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/ctl-x",
            { data: { c: "4" } },
            { "content-type": "application/merge-patch+json" },
          );
          assert.equal(patched.status, 200, patched.text);
          await watch.waitFor(/^ctl-x\s+3\s+\S+\s*$/m, 30_000);
        } finally {
          await watch.stop();
        }
      });

      await t.step('delete prints configmap "x" deleted; get is then NotFound', async () => {
        await sameAsKubectl(
          (w, p) => tool(w)(["delete", "cm", `${p}x`]),
          (p) => `configmap "${p}x" deleted\n`,
        );
        const missing = await cluster.ctl(["get", "cm", "ctl-x"]);
        assert.equal(missing.code, 1);
        assert.equal(
          missing.stderr.trim(),
          'Error from server (NotFound): configmaps "ctl-x" not found',
        );
      });

      await t.step("delete -f removes what the file names", async () => {
        const file = await manifestFile(dir, "del", configMap("by-file", { a: "1" }));
        assertOk(await cluster.ctl(["apply", "-f", file]), "apply by-file");
        const deleted = await cluster.ctl(["delete", "-f", file]);
        assert.equal(assertOk(deleted, "delete -f").trim(), 'configmap "by-file" deleted');
      });

      await t.step("ctl and kubectl apply share last-applied-configuration", async () => {
        if (!hasKubectl) return;
        const v1 = await manifestFile(dir, "shared-v1", configMap("shared", { a: "1" }));
        const v2 = await manifestFile(dir, "shared-v2", configMap("shared", { a: "2" }));
        assert.equal(
          assertOk(await cluster.kubectl(["apply", "-f", v1]), "kubectl apply").trim(),
          "configmap/shared created",
        );
        assert.equal(
          assertOk(await cluster.ctl(["apply", "-f", v1]), "ctl apply").trim(),
          "configmap/shared unchanged",
        );
        assert.equal(
          assertOk(await cluster.ctl(["apply", "-f", v2]), "ctl apply v2").trim(),
          "configmap/shared configured",
        );
        assert.equal(
          assertOk(await cluster.kubectl(["apply", "-f", v2]), "kubectl apply v2").trim(),
          "configmap/shared unchanged",
        );
      });

      await t.step("get of a missing name exits 1 like kubectl", async () => {
        const ours = await cluster.ctl(["get", "cm", "nope"]);
        assert.equal(ours.code, 1);
        assert.equal(
          ours.stderr.trim(),
          'Error from server (NotFound): configmaps "nope" not found',
        );
        assert.equal(ours.stdout, "");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }, API_ONLY),
});

/** The describe text with the blocks of its `Data` section in sorted order. */
function sortDataBlocks(text: string): string {
  const m = /(\nData\n====\n)([\s\S]*?)(\n\nBinaryData\n)/.exec(text);
  if (!m) return text;
  const blocks = m[2]!.split(/\n(?=[^\n]+:\n----\n)/).map((b) => b.replace(/\n+$/, ""));
  blocks.sort();
  return text.replace(m[0], `${m[1]}${blocks.join("\n\n")}${m[3]}`);
}

import assert from "node:assert/strict";
import { CtlError } from "./_client.ts";
import { DEFAULT_SERVER, loadKubeconfig } from "./kubeconfig.ts";
import { tempKubeconfig } from "./_testing.ts";

Deno.test("loadKubeconfig() reads server, token and default namespace of the current context", async () => {
  const { dir, path } = await tempKubeconfig();
  try {
    const access = await loadKubeconfig({ path, env: {} });
    assert.equal(access.server, "https://api.test:6443");
    assert.equal(access.token, "t0k3n");
    assert.equal(access.namespace, "default");
    assert.equal(access.namespaceExplicit, false);
    assert.equal(access.insecureSkipTlsVerify, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadKubeconfig() follows --context, tokenFile, CA data and the context namespace", async () => {
  const { dir, path } = await tempKubeconfig(`- name: ops
  user:
    tokenFile: token.txt
`);
  try {
    await Deno.writeTextFile(`${dir}/token.txt`, "from-file\n");
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(
      path,
      text.replace(
        "contexts:\n",
        `contexts:
- name: site
  context:
    cluster: site
    user: ops
    namespace: web
`,
      ).replace(
        "clusters:\n",
        `clusters:
- name: site
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: ${btoa("PEM")}
    insecure-skip-tls-verify: true
`,
      ),
    );
    const access = await loadKubeconfig({ env: { KUBECONFIG: path }, context: "site" });
    assert.equal(access.server, "https://10.0.0.1:6443");
    assert.equal(access.token, "from-file");
    assert.equal(access.caCert, "PEM");
    assert.equal(access.insecureSkipTlsVerify, true);
    assert.equal(access.namespace, "web");
    const overridden = await loadKubeconfig({ env: { KUBECONFIG: path }, namespace: "x" });
    assert.equal(overridden.namespace, "x");
    assert.equal(overridden.namespaceExplicit, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadKubeconfig() reads ~/.kube/config and falls back to localhost:8080 without one", async () => {
  const home = await Deno.makeTempDir();
  try {
    assert.equal((await loadKubeconfig({ env: { HOME: home } })).server, DEFAULT_SERVER);
    const { dir, path } = await tempKubeconfig();
    await Deno.mkdir(`${home}/.kube`);
    await Deno.copyFile(path, `${home}/.kube/config`);
    await Deno.remove(dir, { recursive: true });
    assert.equal((await loadKubeconfig({ env: { HOME: home } })).server, "https://api.test:6443");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("loadKubeconfig() rejects an unknown --context and a missing --kubeconfig", async () => {
  const { dir, path } = await tempKubeconfig();
  try {
    await assert.rejects(
      loadKubeconfig({ path, context: "nope", env: {} }),
      new CtlError("context was not found for specified context: nope"),
    );
    await assert.rejects(
      loadKubeconfig({ path: `${dir}/missing`, env: {} }),
      new CtlError(`stat ${dir}/missing: no such file or directory`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

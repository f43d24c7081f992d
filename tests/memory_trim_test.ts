/**
 * `mod.ts` trims its memory once it is ready (node/memory_trim.ts). The process
 * runs from a copy of the deno executable, as a gateway's only Deno process would: pages this
 * test runner maps too are shared, and the kernel leaves shared pages alone.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const TRIMMED = /edge server: memory trimmed after start-up \(RSS ([\d.]+) → ([\d.]+) MiB\)/;

Deno.test("mod.ts server trims its memory 2 s after it is ready, and keeps serving", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edge-memory-trim-" });
  const deno = `${dir}/deno`;
  await Deno.copyFile(Deno.execPath(), deno);
  await Deno.chmod(deno, 0o755);
  const child = new Deno.Command(deno, {
    args: [
      "run",
      "--allow-all",
      "mod.ts",
      "server",
      "--data-dir",
      `${dir}/data`,
      "--listen",
      "127.0.0.1:0",
      "--cluster-dns-listen",
      "off",
    ],
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  try {
    const decoder = new TextDecoder();
    const deadline = Date.now() + 60_000;
    for await (const chunk of child.stdout.values({ preventCancel: true })) {
      stdout += decoder.decode(chunk, { stream: true });
      if (TRIMMED.test(stdout) || /memory not trimmed/.test(stdout) || Date.now() > deadline) {
        break;
      }
    }
    const match = TRIMMED.exec(stdout);
    assert.ok(match, `no "memory trimmed" line in:\n${stdout}`);
    const [before, after] = [Number(match[1]), Number(match[2])];
    assert.ok(before - after > 10, `RSS ${before} → ${after} MiB`);

    // still serving: the API answers (pages it needs come back from the file)
    const url = /ready at (https:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
    assert.ok(url, stdout);
    const caCert = await Deno.readTextFile(`${dir}/data/pki/ca.crt`);
    const client = Deno.createHttpClient({ caCerts: [caCert] });
    try {
      const token = (await Deno.readTextFile(`${dir}/data/admin.token`)).trim();
      const response = await fetch(`${url}/api/v1/namespaces`, {
        client,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 200, await response.text());
    } finally {
      client.close();
    }
  } finally {
    child.kill("SIGTERM");
    await child.stdout.cancel().catch(() => {});
    const status = await child.status;
    await stderr;
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, stdout);
  }
});

import assert from "node:assert/strict";
import { ensureServingPki, makeCa, signServerCert } from "./pki.ts";

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

Deno.test("ensureServingPki() keeps its certificates, and remakes them for new hosts or near their end", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edge-pki-" });
  try {
    const first = await ensureServingPki(dir, ["127.0.0.1"]);
    assert.deepEqual(await ensureServingPki(dir, ["127.0.0.1"]), first, "kept as it is");

    const moved = await ensureServingPki(dir, ["127.0.0.1", "10.0.0.5"]);
    assert.equal(moved.caCert, first.caCert);
    assert.notEqual(moved.cert, first.cert, "a new host: a new serving certificate");

    // a serving certificate a day from its end, signed by the same CA
    await signServerCert(dir, 1);
    const expiring = await Deno.readTextFile(`${dir}/server.crt`);
    const renewed = await ensureServingPki(dir, ["127.0.0.1", "10.0.0.5"]);
    assert.notEqual(renewed.cert, expiring);
    assert.equal(renewed.caCert, first.caCert, "the CA is kept");

    // a CA a day from its end: a new CA, and a serving certificate from it
    await makeCa(dir, "old-ca", 1);
    const oldCa = await Deno.readTextFile(`${dir}/ca.crt`);
    const fresh = await ensureServingPki(dir, ["127.0.0.1", "10.0.0.5"]);
    assert.notEqual(fresh.caCert, oldCa);
    assert.notEqual(fresh.cert, renewed.cert);
    // the new serving certificate is signed by the new CA
    await openssl(["verify", "-CAfile", "ca.crt", "server.crt"], dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { shortHash } from "./_proxy_hash.ts";

Deno.test("shortHash() is stable, 12 base32 characters", () => {
  assert.equal(shortHash("default/web/tcp/http"), shortHash("default/web/tcp/http"));
  assert.match(shortHash(""), /^[A-Z2-7]{12}$/);
  assert.match(shortHash("default/web/tcp/http"), /^[A-Z2-7]{12}$/);
});

Deno.test("shortHash() gives 100,000 similar identities distinct names", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) {
    seen.add(shortHash(`bench/svc-${i}/tcp/http__10.244.${i % 256}.1/8080`));
  }
  assert.equal(seen.size, 100_000);
});

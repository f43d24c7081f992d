import assert from "node:assert/strict";
import { benchDns } from "./bench_dns.ts";

Deno.test("benchDns() answers every query of a small run", async () => {
  const r = await benchDns({ services: 20, queries: 300, concurrency: 8 });
  assert.equal(r.answered + r.failed, 300);
  assert.equal(r.failed, 0);
  assert.ok(r.qps > 0);
});

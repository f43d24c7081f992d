import assert from "node:assert/strict";
import { fakeFetch, run, status } from "./_testing.ts";
import { sinceSeconds } from "./logs.ts";

Deno.test("runCtl(logs) passes container, tail, timestamps, previous and since to pods/log", async () => {
  const api = fakeFetch(() => ({ text: "line 1\nline 2\n" }));
  const res = await run(
    ["logs", "pod/web", "-c", "app", "--tail", "2", "--timestamps", "-p", "--since", "1m30s"],
    api.fetch,
  );
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, "line 1\nline 2\n");
  const req = api.requests[0]!;
  assert.equal(req.path, "/api/v1/namespaces/default/pods/web/log");
  assert.equal(req.query.get("container"), "app");
  assert.equal(req.query.get("tailLines"), "2");
  assert.equal(req.query.get("timestamps"), "true");
  assert.equal(req.query.get("previous"), "true");
  assert.equal(req.query.get("sinceSeconds"), "90");
});

Deno.test("runCtl(logs) prints the server's error like kubectl", async () => {
  const api = fakeFetch(() => ({
    status: 400,
    body: status(
      "BadRequest",
      400,
      "a container name must be specified for pod web, choose one of: [a b]",
    ),
  }));
  const res = await run(["logs", "web"], api.fetch);
  assert.equal(res.code, 1);
  assert.equal(
    res.stderr,
    "Error from server (BadRequest): a container name must be specified for pod web, choose one of: [a b]\n",
  );
});

Deno.test("sinceSeconds() reads Go-style durations and refuses others", () => {
  assert.equal(sinceSeconds("45s"), 45);
  assert.equal(sinceSeconds("2m"), 120);
  assert.equal(sinceSeconds("1h30m"), 5400);
  assert.throws(() => sinceSeconds("soon"), /--since/);
});

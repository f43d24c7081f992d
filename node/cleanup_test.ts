import assert from "node:assert/strict";
import { FakeFirewall } from "../net/firewall.ts";
import type { CommandRunner } from "../net/routes.ts";
import { cleanupNode } from "./cleanup.ts";

Deno.test("cleanupNode() removes the proxy table and only our routes", async () => {
  const firewall = new FakeFirewall();
  const calls: string[][] = [];
  const run: CommandRunner = (_cmd, args) => {
    calls.push(args);
    if (args.includes("show")) {
      return Promise.resolve({
        code: 0,
        stderr: "",
        stdout: JSON.stringify([
          { dst: "10.244.1.0/24", gateway: "10.231.5.3", protocol: "237" },
          { dst: "10.9.0.0/16", gateway: "10.231.5.9", protocol: "237" },
          { dst: "10.244.2.0/24", gateway: "10.231.5.4", protocol: "static" },
          { dst: "10.244.0.0/24", dev: "podman1", protocol: "kernel" },
        ]),
      });
    }
    return Promise.resolve({ code: 0, stdout: "", stderr: "" });
  };
  const result = await cleanupNode({ firewall, run });
  assert.equal(firewall.removed, 1);
  assert.equal(result.table, "ip edge-proxy");
  assert.deepEqual(result.routes.sort(), [
    "10.244.1.0/24 via 10.231.5.3",
    "10.9.0.0/16 via 10.231.5.9",
  ]);
  assert.deepEqual(result.errors, []);
  const deleted = calls.filter((a) => a[1] === "del").map((a) => a[2]);
  assert.deepEqual(deleted.sort(), ["10.244.1.0/24", "10.9.0.0/16"]);
});

import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import { formatEndpoints } from "./endpoints.ts";

function ep(subsets: unknown[]): KubeObject {
  return { apiVersion: "v1", kind: "Endpoints", metadata: { name: "web" }, subsets };
}

Deno.test("formatEndpoints() lists up to three ip:port pairs", () => {
  assert.equal(formatEndpoints(ep([])), "<none>");
  assert.equal(
    formatEndpoints(ep([{ addresses: [{ ip: "10.0.0.1" }], ports: [{ port: 80 }] }])),
    "10.0.0.1:80",
  );
  assert.equal(
    formatEndpoints(ep([{ addresses: [{ ip: "fd00::1" }], ports: [{ port: 80 }] }])),
    "[fd00::1]:80",
  );
  assert.equal(
    formatEndpoints(
      ep([{
        addresses: [{ ip: "10.0.0.1" }, { ip: "10.0.0.2" }],
        ports: [{ port: 80 }, { port: 443 }],
      }]),
    ),
    "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
  );
  assert.equal(formatEndpoints(ep([{ addresses: [{ ip: "10.0.0.9" }] }])), "10.0.0.9");
});

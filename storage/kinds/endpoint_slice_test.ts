import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import { ApiError } from "../status.ts";
import { validateObject } from "../validation.ts";
import {
  endpointAddressErrors,
  type EndpointSlice,
  endpointSlices,
  formatSliceEndpoints,
  formatSlicePorts,
} from "./endpoint_slice.ts";

function slice(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: "web-abcde", namespace: "default" },
    addressType: "IPv4",
    ...fields,
  };
}

function valid(body: unknown, old?: KubeObject): EndpointSlice {
  return validateObject(endpointSlices, body, {
    fieldValidation: "Strict",
    ...(old ? { old } : {}),
  }).object as unknown as EndpointSlice;
}

function causes(body: unknown, old?: KubeObject): [string, string][] {
  try {
    validateObject(endpointSlices, body, { fieldValidation: "Strict", ...(old ? { old } : {}) });
  } catch (e) {
    assert.ok(e instanceof ApiError && e.code === 422, String(e));
    return (e.details?.causes ?? []).map((c) => [c.field, c.message]);
  }
  assert.fail("expected Invalid");
}

Deno.test("endpointslices schema applies SetDefaults_EndpointPort and Go's empty values", () => {
  const s = valid(slice({
    endpoints: [{ addresses: ["10.244.0.8"] }],
    ports: [{ port: 8080 }, { name: "metrics", port: 9090, protocol: "UDP" }],
  }));
  assert.deepEqual(s.endpoints, [{ addresses: ["10.244.0.8"], conditions: {} }]);
  assert.deepEqual(s.ports, [
    { name: "", protocol: "TCP", port: 8080 },
    { name: "metrics", protocol: "UDP", port: 9090 },
  ]);
  // Go clients send null for an empty list
  assert.deepEqual(valid(slice({ endpoints: null })).endpoints, []);
});

Deno.test("endpointslices validation requires a supported addressType", () => {
  const { addressType: _, ...rest } = slice({});
  assert.deepEqual(causes(rest), [["addressType", "Required value"]]);
  assert.deepEqual(causes(slice({ addressType: "IP" })), [[
    "addressType",
    'Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"',
  ]]);
});

Deno.test("endpointslices validation checks addresses against the addressType", () => {
  assert.deepEqual(
    causes(slice({
      endpoints: [
        { addresses: [] },
        { addresses: ["fd00::1", "127.0.0.1", "169.254.1.1"] },
        { addresses: ["0.0.0.0"] },
      ],
    })),
    [
      ["endpoints[0].addresses", "Required value: must contain at least 1 address"],
      ["endpoints[1].addresses[0]", 'Invalid value: "fd00::1": must be a valid IPv4 address'],
      [
        "endpoints[1].addresses[1]",
        'Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
      ],
      [
        "endpoints[1].addresses[2]",
        'Invalid value: "169.254.1.1": may not be in the link-local range (169.254.0.0/16, fe80::/10)',
      ],
      ["endpoints[2].addresses[0]", 'Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)'],
    ],
  );
  const many = Array.from({ length: 101 }, (_, i) => `10.0.${i >> 8}.${(i % 250) + 1}`);
  assert.deepEqual(causes(slice({ endpoints: [{ addresses: many }] })), [
    ["endpoints[0].addresses", "Too many: 101: must have at most 100 items"],
  ]);
  const endpoints = Array.from({ length: 1001 }, () => ({ addresses: ["10.0.0.1"] }));
  assert.deepEqual(causes(slice({ endpoints })), [
    ["endpoints", "Too many: 1001: must have at most 1000 items"],
  ]);
  valid(slice({ addressType: "IPv6", endpoints: [{ addresses: ["fd00::8", "2001:db8::1"] }] }));
  valid(slice({ addressType: "FQDN", endpoints: [{ addresses: ["db.example.com."] }] }));
  assert.deepEqual(causes(slice({ addressType: "FQDN", endpoints: [{ addresses: [""] }] })), [
    ["endpoints[0].addresses[0]", "Required value"],
  ]);
});

Deno.test("endpointAddressErrors() follows IsValidIPv4Address, IsValidIPv6Address, ValidateEndpointIP and IsFullyQualifiedDomainName", () => {
  assert.deepEqual(endpointAddressErrors("IPv4", "10.244.0.8"), []);
  assert.deepEqual(endpointAddressErrors("IPv4", "224.0.0.5"), [
    "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
  ]);
  assert.deepEqual(endpointAddressErrors("IPv6", "::1"), [
    "may not be in the loopback range (127.0.0.0/8, ::1/128)",
  ]);
  assert.deepEqual(endpointAddressErrors("IPv6", "::"), ["may not be unspecified (::)"]);
  assert.deepEqual(endpointAddressErrors("IPv6", "fe80::1"), [
    "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
  ]);
  assert.deepEqual(endpointAddressErrors("IPv6", "ff02::fb"), [
    "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
  ]);
  assert.deepEqual(endpointAddressErrors("IPv6", "::ffff:10.0.0.1"), [
    "must be a valid IPv6 address",
  ]);
  assert.deepEqual(endpointAddressErrors("IPv6", "64:ff9b::10.0.0.1"), []);
  assert.deepEqual(endpointAddressErrors("IPv6", "10.0.0.1"), ["must be a valid IPv6 address"]);
  assert.deepEqual(endpointAddressErrors("FQDN", "localhost"), [
    "should be a domain with at least two segments separated by dots",
  ]);
  assert.equal(endpointAddressErrors("FQDN", "Db.example.com").length, 1);
});

Deno.test("endpointslices validation checks endpoint names, hints and ports", () => {
  assert.deepEqual(
    causes(slice({
      endpoints: [{
        addresses: ["10.244.0.8"],
        hostname: "Web_1",
        nodeName: "edge_1",
        hints: { forZones: [{ name: "a" }, { name: "a" }] },
      }],
      ports: [
        { name: "http", port: 80 },
        { name: "http", port: 81 },
        { name: "Metrics", port: 9090 },
        { port: 1 },
        { name: "dns", port: 53, appProtocol: "-bad" },
      ],
    })).map(([field]) => field),
    [
      "endpoints[0].nodeName",
      "endpoints[0].hostname",
      "endpoints[0].hints.forZones[1].name",
      "ports[1].name",
      "ports[2].name",
      "ports[4].appProtocol",
    ],
  );
  const ports = Array.from({ length: 101 }, (_, i) => ({ name: `p${i}`, port: i + 1 }));
  assert.deepEqual(causes(slice({ ports })), [
    ["ports", "Too many: 101: must have at most 100 items"],
  ]);
});

Deno.test("endpointslices validation keeps addressType immutable", () => {
  const old = valid(slice({ endpoints: [{ addresses: ["10.244.0.8"] }] })) as unknown as KubeObject;
  valid(slice({ endpoints: [{ addresses: ["10.244.0.9"] }] }), old);
  assert.deepEqual(
    causes(slice({ addressType: "IPv6", endpoints: [{ addresses: ["fd00::9"] }] }), old),
    [["addressType", 'Invalid value: "IPv6": field is immutable']],
  );
});

Deno.test("formatSlicePorts() and formatSliceEndpoints() print kubectl's PORTS and ENDPOINTS cells", () => {
  const obj = (fields: Record<string, unknown>) => slice(fields) as unknown as KubeObject;
  assert.equal(formatSlicePorts(obj({})), "<unset>");
  assert.equal(
    formatSlicePorts(obj({ ports: [{ name: "http", port: 80 }, { name: "all" }] })),
    "80,all",
  );
  assert.equal(
    formatSlicePorts(obj({ ports: [1, 2, 3, 4, 5].map((port) => ({ name: `p${port}`, port })) })),
    "1,2,3 + 2 more...",
  );
  assert.equal(formatSliceEndpoints(obj({ endpoints: [] })), "<unset>");
  assert.equal(
    formatSliceEndpoints(obj({
      endpoints: [
        { addresses: ["10.244.0.8"] },
        { addresses: ["10.244.0.9", "10.244.0.10"] },
        { addresses: ["10.244.0.11"] },
      ],
    })),
    "10.244.0.8,10.244.0.9,10.244.0.10 + 1 more...",
  );
});

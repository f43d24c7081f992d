import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import { ApiError } from "../status.ts";
import { validateObject } from "../validation.ts";
import { type Service, serviceExternalIP, servicePorts, services } from "./service.ts";

function create(body: unknown): Service {
  return validateObject(services, body, { fieldValidation: "Strict" }).object as unknown as Service;
}

function causes(body: unknown): [string, string][] {
  try {
    validateObject(services, body, { fieldValidation: "Strict" });
  } catch (e) {
    assert.ok(e instanceof ApiError && e.code === 422, String(e));
    return (e.details?.causes ?? []).map((c) => [c.field, c.message]);
  }
  assert.fail("expected Invalid");
}

Deno.test("services schema defaults type, sessionAffinity, protocol and targetPort", () => {
  const svc = create({
    metadata: { name: "web" },
    spec: {
      selector: { app: "web" },
      ports: [{ port: 80 }, { name: "x", port: 81, targetPort: "http" }].slice(0, 1),
    },
  });
  assert.equal(svc.spec.type, "ClusterIP");
  assert.equal(svc.spec.sessionAffinity, "None");
  assert.equal(svc.spec.internalTrafficPolicy, "Cluster");
  assert.deepEqual(svc.spec.ports, [{ port: 80, protocol: "TCP", targetPort: 80 }]);
  const np = create({
    metadata: { name: "np" },
    spec: {
      type: "NodePort",
      ports: [{ name: "a", port: 80, targetPort: "http", nodePort: 30080 }],
    },
  });
  assert.equal(np.spec.externalTrafficPolicy, "Cluster");
  assert.equal(np.spec.ports?.[0]?.targetPort, "http");
});

Deno.test("services validation checks ports, names and the DNS-1035 name rule", () => {
  const got = causes({
    metadata: { name: "1web" },
    spec: {
      ports: [{ name: "http", port: 0 }, {
        name: "http",
        port: 80,
        targetPort: "Bad_Name",
        nodePort: 30001,
      }, { port: 81 }],
    },
  });
  assert.deepEqual(got.map(([f]) => f), [
    "metadata.name",
    "spec.ports[0].port",
    "spec.ports[0].targetPort",
    "spec.ports[1].name",
    "spec.ports[1].targetPort",
    "spec.ports[1].nodePort",
    "spec.ports[2].name",
  ]);
  assert.match(
    got[0]?.[1] ?? "",
    /a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character/,
  );
  assert.equal(got[1]?.[1], "Invalid value: 0: must be between 1 and 65535, inclusive");
  assert.equal(got[3]?.[1], 'Duplicate value: "http"');
  assert.equal(got[5]?.[1], "Forbidden: may not be used when `type` is 'ClusterIP'");
  assert.deepEqual(causes({ metadata: { name: "ext" }, spec: { type: "ExternalName" } }), [[
    "spec.externalName",
    "Required value",
  ]]);
});

function svc(spec: Record<string, unknown>, status: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: "v1", kind: "Service", metadata: { name: "s" }, spec, status };
}

Deno.test("servicePorts() formats port/protocol with node ports", () => {
  assert.equal(
    servicePorts(
      svc({
        ports: [{ port: 80, protocol: "TCP" }, { port: 53, protocol: "UDP", nodePort: 30053 }],
      }),
    ),
    "80/TCP,53:30053/UDP",
  );
  assert.equal(servicePorts(svc({})), "<none>");
});

Deno.test("serviceExternalIP() follows the service type", () => {
  assert.equal(serviceExternalIP(svc({ type: "ClusterIP" })), "<none>");
  assert.equal(serviceExternalIP(svc({ type: "NodePort", externalIPs: ["1.2.3.4"] })), "1.2.3.4");
  assert.equal(serviceExternalIP(svc({ type: "LoadBalancer" })), "<pending>");
  assert.equal(
    serviceExternalIP(
      svc({ type: "LoadBalancer" }, {
        loadBalancer: { ingress: [{ ip: "5.6.7.8" }, { hostname: "lb.example" }] },
      }),
    ),
    "5.6.7.8,lb.example",
  );
  assert.equal(
    serviceExternalIP(svc({ type: "ExternalName", externalName: "db.example" })),
    "db.example",
  );
});

Deno.test("services columns fill Cluster-IP and Selector", () => {
  const now = new Date();
  const s = svc({
    type: "ClusterIP",
    clusterIPs: ["10.96.0.10"],
    selector: { b: "2", a: "1" },
    ports: [{ port: 80, protocol: "TCP" }],
  });
  const cells = Object.fromEntries(services.columns.map((c) => [c.name, c.cell(s, now)]));
  assert.equal(cells["Cluster-IP"], "10.96.0.10");
  assert.equal(cells["Selector"], "a=1,b=2");
  assert.equal(cells["Port(s)"], "80/TCP");
  assert.equal(
    services.columns.map((c) => c.name).join("|"),
    "Name|Type|Cluster-IP|External-IP|Port(s)|Age|Selector",
  );
});

import assert from "node:assert/strict";
import type { KubeObject } from "../storage/object.ts";
import { envName, serviceEnvVars, serviceVariables } from "./service_env.ts";

function service(
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): KubeObject {
  return { apiVersion: "v1", kind: "Service", metadata: { namespace, name }, spec };
}

const KUBERNETES = service("default", "kubernetes", {
  clusterIP: "10.96.0.1",
  ports: [{ name: "https", protocol: "TCP", port: 443, targetPort: 6443 }],
});

Deno.test("envName() upper-cases and turns dashes into underscores", () => {
  assert.equal(envName("my-web-svc"), "MY_WEB_SVC");
  assert.equal(envName("http"), "HTTP");
});

Deno.test("serviceVariables() makes kubelet's variables for a multi-port service", () => {
  const web = service("shop", "web-front", {
    clusterIP: "10.96.0.20",
    ports: [
      { name: "http", protocol: "TCP", port: 80 },
      { name: "dns-udp", protocol: "UDP", port: 53 },
    ],
  });
  assert.deepEqual(Object.fromEntries(serviceVariables(web).map((v) => [v.name, v.value])), {
    WEB_FRONT_SERVICE_HOST: "10.96.0.20",
    WEB_FRONT_SERVICE_PORT: "80",
    WEB_FRONT_SERVICE_PORT_HTTP: "80",
    WEB_FRONT_SERVICE_PORT_DNS_UDP: "53",
    WEB_FRONT_PORT: "tcp://10.96.0.20:80",
    WEB_FRONT_PORT_80_TCP: "tcp://10.96.0.20:80",
    WEB_FRONT_PORT_80_TCP_PROTO: "tcp",
    WEB_FRONT_PORT_80_TCP_PORT: "80",
    WEB_FRONT_PORT_80_TCP_ADDR: "10.96.0.20",
    WEB_FRONT_PORT_53_UDP: "udp://10.96.0.20:53",
    WEB_FRONT_PORT_53_UDP_PROTO: "udp",
    WEB_FRONT_PORT_53_UDP_PORT: "53",
    WEB_FRONT_PORT_53_UDP_ADDR: "10.96.0.20",
  });
});

Deno.test("serviceVariables() of an unnamed port has no _SERVICE_PORT_<NAME>, protocol TCP", () => {
  const vars = serviceVariables(
    service("a", "db", { clusterIP: "10.96.5.5", ports: [{ port: 5432 }] }),
  );
  assert.deepEqual(vars.map((v) => v.name), [
    "DB_SERVICE_HOST",
    "DB_SERVICE_PORT",
    "DB_PORT",
    "DB_PORT_5432_TCP",
    "DB_PORT_5432_TCP_PROTO",
    "DB_PORT_5432_TCP_PORT",
    "DB_PORT_5432_TCP_ADDR",
  ]);
});

Deno.test("serviceVariables() skips headless, ExternalName and port-less services", () => {
  const none = [
    service("a", "headless", { clusterIP: "None", ports: [{ port: 80 }] }),
    service("a", "ext", { type: "ExternalName", externalName: "example.com" }),
    service("a", "pending", { clusterIP: "", ports: [{ port: 80 }] }),
    service("a", "portless", { clusterIP: "10.96.0.9" }),
  ];
  for (const s of none) assert.deepEqual(serviceVariables(s), [], s.metadata.name ?? "");
});

Deno.test("serviceEnvVars() gives the pod's namespace and default/kubernetes only", () => {
  const env = serviceEnvVars(
    [
      KUBERNETES,
      service("shop", "web", { clusterIP: "10.96.0.20", ports: [{ port: 80 }] }),
      service("other", "db", { clusterIP: "10.96.0.30", ports: [{ port: 5432 }] }),
      service("default", "elsewhere", { clusterIP: "10.96.0.40", ports: [{ port: 1 }] }),
    ],
    "shop",
    true,
  );
  assert.equal(env.get("KUBERNETES_SERVICE_HOST"), "10.96.0.1");
  assert.equal(env.get("KUBERNETES_SERVICE_PORT"), "443");
  assert.equal(env.get("KUBERNETES_SERVICE_PORT_HTTPS"), "443");
  assert.equal(env.get("KUBERNETES_PORT_443_TCP_ADDR"), "10.96.0.1");
  assert.equal(env.get("WEB_SERVICE_HOST"), "10.96.0.20");
  assert.ok(![...env.keys()].some((k) => k.startsWith("DB_") || k.startsWith("ELSEWHERE_")));
});

Deno.test("serviceEnvVars() keeps the kubernetes variables when service links are off", () => {
  const env = serviceEnvVars(
    [
      KUBERNETES,
      service("shop", "web", { clusterIP: "10.96.0.20", ports: [{ port: 80 }] }),
    ],
    "shop",
    false,
  );
  assert.deepEqual([...env.keys()].filter((k) => !k.startsWith("KUBERNETES_")), []);
  assert.equal(env.get("KUBERNETES_SERVICE_HOST"), "10.96.0.1");
  assert.deepEqual(
    serviceEnvVars([KUBERNETES], "default", false).get("KUBERNETES_PORT"),
    [
      "tcp://10.96.0.1:443",
    ][0],
  );
});

Deno.test("serviceEnvVars() lets the namespace's own kubernetes service shadow the master's", () => {
  const own = service("shop", "kubernetes", { clusterIP: "10.96.7.7", ports: [{ port: 8443 }] });
  for (const order of [[KUBERNETES, own], [own, KUBERNETES]]) {
    assert.equal(serviceEnvVars(order, "shop", true).get("KUBERNETES_SERVICE_HOST"), "10.96.7.7");
    assert.equal(serviceEnvVars(order, "shop", false).get("KUBERNETES_SERVICE_HOST"), "10.96.0.1");
  }
});

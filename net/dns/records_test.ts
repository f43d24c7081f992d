import assert from "node:assert/strict";
import type { Answer } from "./_packet.ts";
import { endpoints, service } from "./_testing.ts";
import { ClusterRecords, dashedAddress, type Lookup, reverseName } from "./records.ts";

function records(): ClusterRecords {
  const r = new ClusterRecords({ now: () => 1_700_000_000_000 });
  r.setSnapshot({
    services: [
      service("default", "web", {
        clusterIP: "10.96.0.20",
        ports: [{ name: "http", port: 80 }, { name: "dns", port: 53, protocol: "UDP" }],
        selector: { app: "web" },
      }),
      service("default", "db", {
        clusterIP: "None",
        ports: [{ name: "pg", port: 5432 }],
        selector: { app: "db" },
      }),
      service("default", "ext", { type: "ExternalName", externalName: "example.com" }),
      service("default", "alias", {
        type: "ExternalName",
        externalName: "web.default.svc.cluster.local",
      }),
      service("default", "pending", { ports: [{ port: 80 }] }),
      service("default", "empty", { clusterIP: "None", selector: { app: "none" } }),
    ],
    endpoints: [
      endpoints("default", "db", [{
        addresses: [{ ip: "10.244.1.5", hostname: "db-0" }, { ip: "10.244.2.7" }],
        notReadyAddresses: [{ ip: "10.244.3.9" }],
        ports: [{ name: "pg", port: 5432 }],
      }]),
      endpoints("default", "web", [{
        addresses: [{ ip: "10.244.1.6" }],
        ports: [{ name: "http", port: 8080 }],
      }]),
    ],
  });
  return r;
}

function local(lookup: Lookup) {
  assert.equal(lookup.kind, "local");
  return lookup as Extract<Lookup, { kind: "local" }>;
}

function data(answers: Answer[]): unknown[] {
  return answers.map((a) => "data" in a ? a.data : undefined).sort();
}

Deno.test("ClusterRecords.lookup() answers A with a ClusterIP service's cluster IP", () => {
  const found = local(records().lookup("web.default.svc.cluster.local", "A"));
  assert.equal(found.rcode, "NOERROR");
  assert.deepEqual(found.answers, [
    { type: "A", name: "web.default.svc.cluster.local", ttl: 5, data: "10.96.0.20" },
  ]);
  assert.deepEqual(found.authorities, []);
});

Deno.test("ClusterRecords.lookup() matches names case-insensitively and keeps the asked spelling", () => {
  const found = local(records().lookup("WEB.Default.SVC.cluster.local.", "A"));
  assert.equal(found.answers[0]?.name, "WEB.Default.SVC.cluster.local.");
  assert.deepEqual(data(found.answers), ["10.96.0.20"]);
});

Deno.test("ClusterRecords.lookup() answers one A per ready address of a headless service", () => {
  const r = records();
  assert.deepEqual(data(local(r.lookup("db.default.svc.cluster.local", "A")).answers), [
    "10.244.1.5",
    "10.244.2.7",
  ]);
  assert.deepEqual(data(local(r.lookup("db-0.db.default.svc.cluster.local", "A")).answers), [
    "10.244.1.5",
  ]);
  assert.deepEqual(
    data(local(r.lookup("10-244-2-7.db.default.svc.cluster.local", "A")).answers),
    ["10.244.2.7"],
  );
  // not ready: no record
  assert.equal(local(r.lookup("10-244-3-9.db.default.svc.cluster.local", "A")).rcode, "NXDOMAIN");
});

Deno.test("ClusterRecords.lookup() publishes not-ready addresses when the service asks to", () => {
  const r = records();
  r.applyService(service("default", "db", {
    clusterIP: "None",
    publishNotReadyAddresses: true,
    ports: [{ name: "pg", port: 5432 }],
  }));
  assert.equal(local(r.lookup("db.default.svc.cluster.local", "A")).answers.length, 3);
});

Deno.test("ClusterRecords.lookup() answers SRV for a ClusterIP service's named ports", () => {
  const r = records();
  const tcp = local(r.lookup("_http._tcp.web.default.svc.cluster.local", "SRV"));
  assert.deepEqual(tcp.answers, [{
    type: "SRV",
    name: "_http._tcp.web.default.svc.cluster.local",
    ttl: 5,
    data: { priority: 0, weight: 10000, port: 80, target: "web.default.svc.cluster.local" },
  }]);
  assert.deepEqual(data(tcp.additionals), ["10.96.0.20"]);
  const udp = local(r.lookup("_dns._udp.web.default.svc.cluster.local", "SRV"));
  assert.equal(udp.answers.length, 1);
  assert.equal(local(r.lookup("_dns._tcp.web.default.svc.cluster.local", "SRV")).rcode, "NXDOMAIN");
});

Deno.test("ClusterRecords.lookup() answers one SRV per endpoint of a headless service", () => {
  const found = local(records().lookup("_pg._tcp.db.default.svc.cluster.local", "SRV"));
  assert.deepEqual(
    found.answers.map((a) => a.type === "SRV" ? a.data : undefined),
    [
      { priority: 0, weight: 5000, port: 5432, target: "db-0.db.default.svc.cluster.local" },
      {
        priority: 0,
        weight: 5000,
        port: 5432,
        target: "10-244-2-7.db.default.svc.cluster.local",
      },
    ],
  );
  assert.deepEqual(data(found.additionals), ["10.244.1.5", "10.244.2.7"]);
});

Deno.test("ClusterRecords.lookup() answers a CNAME for an ExternalName service", () => {
  const r = records();
  const found = local(r.lookup("ext.default.svc.cluster.local", "A"));
  assert.equal(found.rcode, "NOERROR");
  assert.deepEqual(found.answers, [
    { type: "CNAME", name: "ext.default.svc.cluster.local", ttl: 5, data: "example.com" },
  ]);
  // a target inside the zone is followed
  const alias = local(r.lookup("alias.default.svc.cluster.local", "A"));
  assert.deepEqual(alias.answers.map((a) => a.type), ["CNAME", "A"]);
  assert.deepEqual(data(alias.answers), ["10.96.0.20", "web.default.svc.cluster.local"]);
});

Deno.test("ClusterRecords.lookup() answers NODATA with the SOA for a name without that type", () => {
  const r = records();
  for (
    const [name, type] of <Array<[string, string]>> [
      ["web.default.svc.cluster.local", "AAAA"],
      ["pending.default.svc.cluster.local", "A"],
      ["empty.default.svc.cluster.local", "A"],
      ["default.svc.cluster.local", "A"],
      ["svc.cluster.local", "A"],
      ["cluster.local", "A"],
      ["_tcp.web.default.svc.cluster.local", "SRV"],
    ]
  ) {
    const found = local(r.lookup(name, type));
    assert.equal(found.rcode, "NOERROR", name);
    assert.deepEqual(found.answers, [], name);
    assert.deepEqual(found.authorities.map((a) => a.type), ["SOA"], name);
  }
});

Deno.test("ClusterRecords.lookup() answers NXDOMAIN with the SOA for unknown names in the domain", () => {
  const found = local(records().lookup("nope.default.svc.cluster.local", "A"));
  assert.equal(found.rcode, "NXDOMAIN");
  assert.deepEqual(found.answers, []);
  const soa = found.authorities[0];
  assert.equal(soa?.type, "SOA");
  assert.equal(soa.name, "cluster.local");
  assert.deepEqual(soa.data, {
    mname: "ns.dns.cluster.local",
    rname: "hostmaster.cluster.local",
    serial: 1_700_000_000,
    refresh: 7200,
    retry: 1800,
    expire: 86400,
    minimum: 5,
  });
  assert.equal(local(records().lookup("other.svc.cluster.local", "A")).rcode, "NXDOMAIN");
});

Deno.test("ClusterRecords.lookup() answers the SOA at the apex", () => {
  const found = local(records().lookup("Cluster.Local", "SOA"));
  assert.deepEqual(found.answers.map((a) => [a.type, a.name]), [["SOA", "Cluster.Local"]]);
});

Deno.test("ClusterRecords.lookup() answers PTR for cluster IPs and headless addresses", () => {
  const r = records();
  assert.deepEqual(data(local(r.lookup("20.0.96.10.in-addr.arpa", "PTR")).answers), [
    "web.default.svc.cluster.local",
  ]);
  assert.deepEqual(data(local(r.lookup("5.1.244.10.in-addr.arpa", "PTR")).answers), [
    "db-0.db.default.svc.cluster.local",
  ]);
  assert.deepEqual(r.lookup("9.9.9.9.in-addr.arpa", "PTR"), { kind: "outside" });
});

Deno.test("ClusterRecords.lookup() leaves names outside the domain to the caller", () => {
  assert.deepEqual(records().lookup("example.com", "A"), { kind: "outside" });
  assert.deepEqual(records().lookup("cluster.localx", "A"), { kind: "outside" });
});

Deno.test("ClusterRecords.lookup() serves another cluster domain", () => {
  const r = new ClusterRecords({ domain: "Edge.Internal." });
  r.setSnapshot({
    services: [service("a", "b", { clusterIP: "10.96.0.5", ports: [{ port: 1 }] })],
    endpoints: [],
  });
  assert.deepEqual(data(local(r.lookup("b.a.svc.edge.internal", "A")).answers), ["10.96.0.5"]);
  assert.deepEqual(r.lookup("b.a.svc.cluster.local", "A"), { kind: "outside" });
  assert.throws(() => new ClusterRecords({ domain: "bad..domain" }), /not a valid DNS name/);
});

Deno.test("ClusterRecords applies and removes services and endpoints one at a time", () => {
  const r = records();
  r.removeEndpoints("default", "db");
  assert.deepEqual(local(r.lookup("db.default.svc.cluster.local", "A")).answers, []);
  assert.equal(local(r.lookup("db-0.db.default.svc.cluster.local", "A")).rcode, "NXDOMAIN");
  r.applyEndpoints(endpoints("default", "db", [{ addresses: [{ ip: "10.244.9.9" }] }]));
  assert.deepEqual(data(local(r.lookup("db.default.svc.cluster.local", "A")).answers), [
    "10.244.9.9",
  ]);
  r.removeService("default", "web");
  assert.equal(local(r.lookup("web.default.svc.cluster.local", "A")).rcode, "NXDOMAIN");
  assert.equal(
    local(r.lookup("_http._tcp.web.default.svc.cluster.local", "SRV")).rcode,
    "NXDOMAIN",
  );
  assert.equal(local(r.lookup("_tcp.web.default.svc.cluster.local", "SRV")).rcode, "NXDOMAIN");
  assert.deepEqual(r.lookup("20.0.96.10.in-addr.arpa", "PTR"), { kind: "outside" });
  for (const name of ["db", "ext", "alias", "pending", "empty"]) r.removeService("default", name);
  assert.equal(local(r.lookup("default.svc.cluster.local", "A")).rcode, "NXDOMAIN");
  assert.equal(local(r.lookup("svc.cluster.local", "A")).rcode, "NXDOMAIN");
  assert.equal(local(r.lookup("cluster.local", "A")).rcode, "NOERROR");
});

Deno.test("ClusterRecords ignores an ExternalName that is not a DNS name", () => {
  const r = new ClusterRecords();
  r.applyService(service("default", "bad", { type: "ExternalName", externalName: "a..b" }));
  const found = local(r.lookup("bad.default.svc.cluster.local", "A"));
  assert.equal(found.rcode, "NOERROR");
  assert.deepEqual(found.answers, []);
});

Deno.test("reverseName() and dashedAddress() spell addresses as CoreDNS does", () => {
  assert.equal(reverseName("10.96.0.10"), "10.0.96.10.in-addr.arpa");
  assert.equal(reverseName("fd00::1"), undefined);
  assert.equal(dashedAddress("10.244.1.5"), "10-244-1-5");
  assert.equal(dashedAddress("fd00::1"), "fd00--1");
});

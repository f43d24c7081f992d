import assert from "node:assert/strict";
import { eps, NODE, svc } from "./_proxy_fixtures.ts";
import { shortHash } from "./_proxy_hash.ts";
import { renderFull } from "./nft_render.ts";
import { buildProxyState, type ProxyState } from "./proxy_model.ts";

const WEB = svc("default/web", { clusterIP: "10.96.0.20", ports: [{ name: "http", port: 80 }] });

function serviceChains(state: ProxyState): string[] {
  return [...state.chains.keys()].filter((n) => /^(service|external|pick)-/.test(n));
}

/** `ip:port` of every DNAT target (endpoint map values, then sticky chains' rules), once each. */
function dnatTargets(state: ProxyState): string[] {
  const fromMap = [...state.maps.values()]
    .filter((m) => m.name.includes("-endpoints-"))
    .flatMap((m) => [...m.elements.values()].map((v) => v.replace(" . ", ":")));
  const fromChains = [...state.chains.values()].flatMap((c) =>
    c.rules.flatMap((r) => /dnat to (\S+)$/.exec(r)?.[1] ?? [])
  );
  return [...new Set([...fromMap, ...fromChains])];
}

Deno.test("buildProxyState() uses only ready addresses whose port name and protocol match", () => {
  const state = buildProxyState([WEB], [
    eps("default/web", [
      { ready: ["10.244.1.5"], notReady: ["10.244.1.6"], ports: [{ name: "http", port: 8080 }] },
      { ready: ["10.244.1.7"], ports: [{ name: "metrics", port: 9090 }] },
      { ready: ["10.244.1.8"], ports: [{ name: "http", port: 8080, protocol: "UDP" }] },
    ]),
  ], NODE);
  assert.deepEqual(dnatTargets(state), ["10.244.1.5:8080"]);
  assert.deepEqual(state.problems, []);
});

Deno.test("buildProxyState() sorts and de-duplicates endpoints", () => {
  const state = buildProxyState([WEB], [
    eps("default/web", [
      { ready: ["10.244.10.1", "10.244.2.1"], ports: [{ name: "http", port: 8080 }] },
      { ready: ["10.244.2.1", "10.244.1.200"], ports: [{ name: "http", port: 8080 }] },
    ]),
  ], NODE);
  assert.deepEqual(dnatTargets(state), [
    "10.244.1.200:8080",
    "10.244.2.1:8080",
    "10.244.10.1:8080",
  ]);
  assert.deepEqual([...state.sets.get("hairpin-endpoints")!.elements], [
    "10.244.1.200 . 10.244.1.200",
    "10.244.2.1 . 10.244.2.1",
    "10.244.10.1 . 10.244.10.1",
  ]);
});

Deno.test("buildProxyState() picks each of n endpoints with probability 1/n", () => {
  const state = buildProxyState([WEB], [
    eps("default/web", [{
      ready: ["10.244.1.1", "10.244.1.2", "10.244.1.3"],
      ports: [{ name: "http", port: 8080 }],
    }]),
  ], NODE);
  assert.equal(
    state.maps.get("service-ips")?.elements.get("10.96.0.20 . tcp . 80"),
    "goto pick-tcp-3",
  );
  assert.deepEqual(state.chains.get("pick-tcp-3")?.rules, [
    "ip daddr @cluster-ips ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
    "dnat to ip daddr . tcp dport . numgen random mod 3 map @tcp-endpoints-3",
  ]);
  assert.deepEqual([...state.maps.get("tcp-endpoints-3")!.elements], [
    ["10.96.0.20 . 80 . 0", "10.244.1.1 . 8080"],
    ["10.96.0.20 . 80 . 1", "10.244.1.2 . 8080"],
    ["10.96.0.20 . 80 . 2", "10.244.1.3 . 8080"],
  ]);
});

Deno.test("buildProxyState() shares one pick chain per endpoint count", () => {
  const state = buildProxyState(
    ["a", "b", "c"].map((n, i) =>
      svc(`default/${n}`, { clusterIP: `10.96.0.${20 + i}`, ports: [{ port: 80 }] })
    ),
    [
      eps("default/a", [{ ready: ["10.244.1.1", "10.244.1.2"], ports: [{ port: 80 }] }]),
      eps("default/b", [{ ready: ["10.244.1.3", "10.244.1.4"], ports: [{ port: 80 }] }]),
      eps("default/c", [{ ready: ["10.244.1.5"], ports: [{ port: 80 }] }]),
    ],
    NODE,
  );
  assert.deepEqual(serviceChains(state), ["pick-tcp-1", "pick-tcp-2"]);
  assert.deepEqual([...state.maps.get("service-ips")!.elements.values()], [
    "goto pick-tcp-2",
    "goto pick-tcp-2",
    "goto pick-tcp-1",
  ]);
});

Deno.test("buildProxyState() names ClientIP chains by a stable hash with a readable comment", () => {
  const sticky = svc("default/web", {
    clusterIP: "10.96.0.20",
    sessionAffinity: "ClientIP",
    ports: [{ name: "http", port: 80 }],
  });
  const one = buildProxyState([sticky], [
    eps("default/web", [{ ready: ["10.244.1.5"], ports: [{ name: "http", port: 8080 }] }]),
  ], NODE);
  const hash = shortHash("default/web/tcp/http");
  assert.match(hash, /^[A-Z2-7]{12}$/);
  assert.equal(shortHash("default/web/tcp/http"), hash);
  assert.notEqual(shortHash("default/web/tcp/https"), hash);
  assert.equal(one.chains.get(`service-${hash}`)?.comment, "default/web/tcp/http");
  assert.equal(
    one.maps.get("service-ips")?.elements.get("10.96.0.20 . tcp . 80"),
    `goto service-${hash}`,
  );
  assert.ok(![...one.maps.keys()].some((name) => name.startsWith("tcp-endpoints")));
});

Deno.test("buildProxyState() gives headless and ExternalName services no rules", () => {
  const state = buildProxyState(
    [
      svc("default/db", { clusterIP: "None", ports: [{ port: 5432 }] }),
      svc("default/ext", { type: "ExternalName", externalName: "example.com" }),
    ],
    [eps("default/db", [{ ready: ["10.244.1.50"], ports: [{ port: 5432 }] }])],
    NODE,
  );
  assert.deepEqual(serviceChains(state), []);
  assert.equal(state.sets.get("cluster-ips")?.elements.size, 0);
  for (const map of state.maps.values()) assert.equal(map.elements.size, 0);
  assert.deepEqual(state.problems, []);
});

Deno.test("buildProxyState() rejects service ports without endpoints", () => {
  const state = buildProxyState(
    [
      svc("default/np", {
        type: "NodePort",
        clusterIP: "10.96.0.70",
        externalIPs: ["192.168.60.7"],
        ports: [{ port: 80, nodePort: 30070 }],
      }),
    ],
    [],
    NODE,
  );
  assert.deepEqual(serviceChains(state), []);
  assert.deepEqual([...state.maps.get("no-endpoint-services")!.elements], [
    ["10.96.0.70 . tcp . 80", "goto reject-chain"],
    ["192.168.60.7 . tcp . 80", "goto reject-chain"],
  ]);
  assert.deepEqual([...state.maps.get("no-endpoint-nodeports")!.elements], [
    ["tcp . 30070", "goto reject-chain"],
  ]);
  assert.deepEqual([...state.sets.get("cluster-ips")!.elements], ["10.96.0.70"]);
});

Deno.test("buildProxyState() masquerades NodePort and external traffic, and off-cluster clusterIP traffic", () => {
  const state = buildProxyState(
    [
      svc("default/np", {
        type: "NodePort",
        clusterIP: "10.96.0.40",
        ports: [{ port: 80, nodePort: 30080 }],
      }),
    ],
    [eps("default/np", [{ ready: ["10.244.1.20"], ports: [{ port: 8080 }] }])],
    NODE,
  );
  assert.deepEqual(state.chains.get("pick-tcp-nodeport-1")?.rules, [
    "jump mark-for-masquerade",
    "dnat to tcp dport . numgen random mod 1 map @tcp-nodeport-endpoints-1",
  ]);
  assert.equal(
    state.chains.get("pick-tcp-1")?.rules[0],
    "ip daddr @cluster-ips ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
  );
  assert.equal(
    state.maps.get("service-nodeports")?.elements.get("tcp . 30080"),
    "goto pick-tcp-nodeport-1",
  );
  assert.deepEqual([...state.maps.get("tcp-nodeport-endpoints-1")!.elements], [
    ["30080 . 0", "10.244.1.20 . 8080"],
  ]);
  const post = state.chains.get("nat-postrouting")!.rules;
  assert.equal(post[0], "jump masquerading", "masquerade of marked packets comes first");
  assert.equal(
    post[1],
    "ct status dnat ip saddr . ip daddr @hairpin-endpoints masquerade fully-random",
  );
  assert.match(post[2]!, /^ip saddr 10\.244\.0\.0\/16 ip daddr 10\.244\.0\.0\/16 snat to ip saddr/);
});

Deno.test("buildProxyState() ignores a nodePort on a ClusterIP service", () => {
  const state = buildProxyState(
    [
      svc("default/web", { clusterIP: "10.96.0.20", ports: [{ port: 80, nodePort: 30080 }] }),
    ],
    [eps("default/web", [{ ready: ["10.244.1.5"], ports: [{ port: 8080 }] }])],
    NODE,
  );
  assert.equal(state.maps.get("service-nodeports")?.elements.size, 0);
});

Deno.test("buildProxyState() skips and reports invalid addresses, ports and protocols", () => {
  const evil = "1.2.3.4 } ; flush ruleset ; {";
  const state = buildProxyState([
    svc("default/web", {
      clusterIP: "10.96.0.20",
      externalIPs: [evil, "fd00::5", "192.168.60.5"],
      ports: [
        { name: "http", port: 80 },
        { name: "big", port: 70000 },
        { name: "weird", port: 81, protocol: "ICMP" as "TCP" },
      ],
    }),
    svc("default/badip", { clusterIP: "10.96.0.999", ports: [{ port: 80 }] }),
    svc("default/pending", { ports: [{ port: 80 }] }),
    svc("Default/Upper", { clusterIP: "10.96.0.21", ports: [{ port: 80 }] }),
  ], [
    eps("default/web", [
      {
        ready: ["10.244.1.5", "127.0.0.1", "10.244.1.300", evil],
        ports: [{ name: "http", port: 8080 }],
      },
      { ready: ["10.244.1.6"], ports: [{ name: "http", port: 0 }] },
    ]),
  ], NODE);
  assert.deepEqual(dnatTargets(state), ["10.244.1.5:8080"]);
  const text = renderFull(state);
  assert.ok(!text.includes("flush ruleset") && !text.includes("fd00") && !text.includes("70000"));
  assert.ok(!text.includes("127.0.0.1") && !text.includes("10.96.0.999"));
  assert.match(text, /192\.168\.60\.5 \. tcp \. 80 : goto pick-tcp-external-1/);
  assert.match(text, /192\.168\.60\.5 \. 80 \. 0 : 10\.244\.1\.5 \. 8080/);
  const problems = state.problems.join("\n");
  for (
    const expected of [
      /external address '1\.2\.3\.4 } ; flush ruleset ; \{' not an IPv4 address/,
      /external address 'fd00::5' IPv6 is not supported/,
      /port big: invalid port 70000/,
      /port weird: unsupported protocol 'ICMP'/,
      /endpoint '127\.0\.0\.1' may not be a loopback address/,
      /endpoint '10\.244\.1\.300' not an IPv4 address/,
      /endpoint port 0 is invalid/,
      /Service default\/badip: clusterIP '10\.96\.0\.999' not an IPv4 address/,
      /Service default\/pending: no clusterIP allocated yet/,
      /Service Default\/Upper: invalid namespace or name/,
    ]
  ) assert.match(problems, expected);
});

Deno.test("buildProxyState() lets the first service keep an address and port another one claims", () => {
  const state = buildProxyState(
    [
      svc("default/a", { clusterIP: "10.96.0.20", ports: [{ port: 80 }] }),
      svc("default/b", { clusterIP: "10.96.0.20", ports: [{ port: 80 }] }),
      svc("default/c", {
        type: "NodePort",
        clusterIP: "10.96.0.22",
        ports: [{ port: 80, nodePort: 30080 }],
      }),
      svc("default/d", {
        type: "NodePort",
        clusterIP: "10.96.0.23",
        ports: [{ port: 80, nodePort: 30080 }],
      }),
    ],
    ["a", "b", "c", "d"].map((n, i) =>
      eps(`default/${n}`, [{ ready: [`10.244.1.${i + 1}`], ports: [{ port: 80 }] }])
    ),
    NODE,
  );
  assert.deepEqual([...state.maps.get("tcp-endpoints-1")!.elements], [
    ["10.96.0.20 . 80 . 0", "10.244.1.1 . 80"],
    ["10.96.0.22 . 80 . 0", "10.244.1.3 . 80"],
    ["10.96.0.23 . 80 . 0", "10.244.1.4 . 80"],
  ]);
  assert.deepEqual([...state.maps.get("tcp-nodeport-endpoints-1")!.elements], [
    ["30080 . 0", "10.244.1.3 . 80"],
  ]);
  assert.ok(!state.sets.get("hairpin-endpoints")!.elements.has("10.244.1.2 . 10.244.1.2"));
  assert.equal(state.problems.length, 2);
  assert.match(
    state.problems[0]!,
    /default\/b port 0: '10\.96\.0\.20 \. tcp \. 80' is already used/,
  );
  assert.match(state.problems[1]!, /default\/d port 0: 'tcp \. 30080' is already used/);
});

Deno.test("buildProxyState() adds a timed affinity set per endpoint for ClientIP", () => {
  const state = buildProxyState(
    [
      svc("default/sticky", {
        clusterIP: "10.96.0.60",
        sessionAffinity: "ClientIP",
        ports: [{ port: 80 }],
      }),
    ],
    [eps("default/sticky", [{ ready: ["10.244.1.30"], ports: [{ port: 8080 }] }])],
    NODE,
  );
  const set = `affinity-${shortHash("default/sticky/tcp/__10.244.1.30/8080")}`;
  assert.deepEqual(state.sets.get(set)?.flags, ["dynamic", "timeout"]);
  assert.equal(state.sets.get(set)?.timeoutSeconds, 10800);
  assert.deepEqual(
    state.chains.get(`service-${shortHash("default/sticky/tcp/")}`)?.rules.slice(1),
    [
      `meta l4proto tcp ip saddr @${set} update @${set} { ip saddr } dnat to 10.244.1.30:8080`,
      `meta l4proto tcp update @${set} { ip saddr } dnat to 10.244.1.30:8080`,
    ],
  );
});

Deno.test("buildProxyState() puts only this node's endpoints into hairpin-endpoints given its podCIDR", () => {
  const services = [svc("default/web", { clusterIP: "10.96.0.20", ports: [{ port: 80 }] })];
  const endpoints = [
    eps("default/web", [{
      ready: ["10.244.1.5", "10.244.2.7", "192.168.50.10", "192.168.50.11"],
      ports: [{ port: 8080 }],
    }]),
  ];
  const hairpin = (node: typeof NODE) => [
    ...buildProxyState(services, endpoints, node).sets.get("hairpin-endpoints")!.elements,
  ];
  assert.equal(hairpin(NODE).length, 4, "without a podCIDR any endpoint may be local");
  assert.deepEqual(hairpin({ ...NODE, podCIDR: "10.244.1.0/24" }), [
    "10.244.1.5 . 10.244.1.5",
    "192.168.50.10 . 192.168.50.10",
  ]);
});

Deno.test("buildProxyState() throws on an invalid node setting", () => {
  assert.throws(
    () => buildProxyState([], [], { ...NODE, serviceCIDR: "10.96.0.1/16" }),
    /service CIDR/,
  );
  assert.throws(
    () => buildProxyState([], [], { ...NODE, clusterCIDR: "10.244.0.0/33" }),
    /cluster CIDR/,
  );
  assert.throws(() => buildProxyState([], [], { ...NODE, name: "Edge 1" }), /node name/);
  assert.throws(() => buildProxyState([], [], { ...NODE, podCIDR: "10.244.1.1/24" }), /pod CIDR/);
});

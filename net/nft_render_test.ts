import assert from "node:assert/strict";
import type { Endpoints } from "../storage/kinds/endpoints.ts";
import type { Service } from "../storage/kinds/service.ts";
import { enter, nftSkipReason, run, withNetns } from "./_nft_netns.ts";
import { eps, NODE, svc } from "./_proxy_fixtures.ts";
import { needsFullRender, renderDiff, renderFull, renderRemove } from "./nft_render.ts";
import { buildProxyState, type ProxyState } from "./proxy_model.ts";
import { shortHash } from "./_proxy_hash.ts";

const TESTDATA = new URL("./testdata/", import.meta.url);
const SKIP = await nftSkipReason();

interface Case {
  services: Service[];
  endpoints: Endpoints[];
}

const WEB = svc("default/web", { clusterIP: "10.96.0.20", ports: [{ name: "http", port: 80 }] });
const WEB_EPS = (ready: string[]) =>
  eps("default/web", [{ ready, notReady: ["10.244.3.9"], ports: [{ name: "http", port: 8080 }] }]);

/** Every golden full script: name → cluster state. */
const CASES: Record<string, Case> = {
  clusterip_two_endpoints: {
    services: [WEB],
    endpoints: [WEB_EPS(["10.244.2.7", "10.244.1.5"])],
  },
  multi_port: {
    services: [
      svc("default/app", {
        clusterIP: "10.96.0.30",
        ports: [{ name: "http", port: 80 }, { name: "dns", port: 53, protocol: "UDP" }],
      }),
    ],
    endpoints: [
      eps("default/app", [{
        ready: ["10.244.1.10", "10.244.2.10"],
        ports: [{ name: "http", port: 8080 }, { name: "dns", port: 5353, protocol: "UDP" }],
      }]),
    ],
  },
  node_port: {
    services: [
      svc("default/np", {
        type: "NodePort",
        clusterIP: "10.96.0.40",
        ports: [{ port: 80, nodePort: 30080 }],
      }),
    ],
    endpoints: [eps("default/np", [{ ready: ["10.244.1.20"], ports: [{ port: 8080 }] }])],
  },
  load_balancer: {
    services: [
      svc("default/lb", {
        type: "LoadBalancer",
        clusterIP: "10.96.0.50",
        externalIPs: ["192.168.60.5"],
        ports: [{ name: "https", port: 443, nodePort: 30443 }],
      }, { loadBalancer: { ingress: [{ ip: "192.168.50.10" }, { ip: "192.168.50.11" }] } }),
    ],
    endpoints: [
      eps("default/lb", [{ ready: ["10.244.3.3"], ports: [{ name: "https", port: 8443 }] }]),
    ],
  },
  session_affinity: {
    services: [
      svc("default/sticky", {
        clusterIP: "10.96.0.60",
        sessionAffinity: "ClientIP",
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
        ports: [{ port: 80 }],
      }),
    ],
    endpoints: [
      eps("default/sticky", [{ ready: ["10.244.1.30", "10.244.2.30"], ports: [{ port: 8080 }] }]),
    ],
  },
  no_endpoints: {
    services: [
      svc("default/empty", {
        type: "NodePort",
        clusterIP: "10.96.0.70",
        ports: [{ port: 80, nodePort: 30070 }],
      }),
      svc("default/unready", { clusterIP: "10.96.0.71", ports: [{ port: 80 }] }),
    ],
    endpoints: [eps("default/unready", [{ notReady: ["10.244.1.40"], ports: [{ port: 80 }] }])],
  },
  headless_external_name: {
    services: [
      svc("default/db", { clusterIP: "None", ports: [{ port: 5432 }] }),
      svc("default/ext", { type: "ExternalName", externalName: "example.com" }),
    ],
    endpoints: [eps("default/db", [{ ready: ["10.244.1.50"], ports: [{ port: 5432 }] }])],
  },
};

function stateOf(c: Case): ProxyState {
  return buildProxyState(c.services, c.endpoints, NODE);
}

const TWO = CASES.clusterip_two_endpoints!;
const THREE: Case = {
  services: [WEB],
  endpoints: [WEB_EPS(["10.244.2.7", "10.244.1.5", "10.244.4.2"])],
};

/** Compares `actual` with `testdata/<name>.nft`; `UPDATE_GOLDEN=1` rewrites the file. */
async function golden(name: string, actual: string): Promise<void> {
  const url = new URL(`${name}.nft`, TESTDATA);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") {
    await Deno.mkdir(TESTDATA, { recursive: true });
    await Deno.writeTextFile(url, actual);
    return;
  }
  assert.equal(actual, await Deno.readTextFile(url), `${name}.nft differs (UPDATE_GOLDEN=1)`);
}

for (const [name, c] of Object.entries(CASES)) {
  Deno.test(`renderFull() matches testdata/${name}.nft`, async () => {
    await golden(name, renderFull(stateOf(c)));
  });
}

Deno.test("renderDiff() of one added endpoint matches testdata/diff_add_endpoint.nft", async () => {
  await golden("diff_add_endpoint", renderDiff(stateOf(TWO), stateOf(THREE)));
});

Deno.test("renderDiff() is empty for an unchanged state", () => {
  assert.equal(renderDiff(stateOf(TWO), stateOf(TWO)), "");
});

Deno.test("renderDiff() removes a service's chains after the elements pointing to them, then its maps", () => {
  const script = renderDiff(
    stateOf(CASES.load_balancer!),
    stateOf({ services: [], endpoints: [] }),
  );
  const lines = script.trim().split("\n");
  const elements = ["service-ips", "service-nodeports"].map((map) =>
    lines.findIndex((l) => l.startsWith(`delete element ip edge-proxy ${map} `))
  );
  const firstFlush = lines.findIndex((l) => l.startsWith("flush chain"));
  const firstDelete = lines.findIndex((l) => l.startsWith("delete chain"));
  const lastDelete = lines.findLastIndex((l) => l.startsWith("delete chain"));
  assert.ok(elements.every((i) => i >= 0), script);
  assert.ok(firstFlush > Math.max(...elements) && firstDelete > firstFlush, script);
  assert.deepEqual(lines.filter((l) => l.startsWith("delete chain")).map((l) => l.split(" ")[4]), [
    "pick-tcp-1",
    "pick-tcp-external-1",
    "pick-tcp-nodeport-1",
  ]);
  assert.deepEqual(lines.slice(lastDelete + 1), [
    "delete map ip edge-proxy tcp-endpoints-1",
    "delete map ip edge-proxy tcp-nodeport-endpoints-1",
  ]);
  assert.ok(lines.includes("delete element ip edge-proxy cluster-ips { 10.96.0.50 }"));
  assert.ok(
    lines.includes("delete element ip edge-proxy hairpin-endpoints { 10.244.3.3 . 10.244.3.3 }"),
  );
});

Deno.test("renderDiff() removes a ClientIP service's chains, then its affinity sets", () => {
  const script = renderDiff(
    stateOf(CASES.session_affinity!),
    stateOf({ services: [], endpoints: [] }),
  );
  const lines = script.trim().split("\n");
  const hash = shortHash("default/sticky/tcp/");
  const element = lines.indexOf(
    "delete element ip edge-proxy service-ips { 10.96.0.60 . tcp . 80 }",
  );
  const chain = lines.indexOf(`delete chain ip edge-proxy service-${hash}`);
  const sets = lines.flatMap((
    l,
    i,
  ) => (l.startsWith("delete set ip edge-proxy affinity-") ? [i] : []));
  assert.ok(element >= 0 && chain > element, script);
  assert.equal(sets.length, 2, script);
  assert.ok(sets.every((i) => i > chain), script);
});

Deno.test("renderDiff() moves a service between no-endpoint-services and service-ips", () => {
  const none = stateOf({ services: [WEB], endpoints: [] });
  const up = renderDiff(none, stateOf(TWO));
  assert.match(
    up,
    /^delete element ip edge-proxy no-endpoint-services \{ 10\.96\.0\.20 \. tcp \. 80 \}$/m,
  );
  assert.match(
    up,
    /^add element ip edge-proxy service-ips \{ 10\.96\.0\.20 \. tcp \. 80 : goto pick-tcp-2 \}$/m,
  );
  const down = renderDiff(stateOf(TWO), none);
  assert.match(
    down,
    /^add element ip edge-proxy no-endpoint-services \{ 10\.96\.0\.20 \. tcp \. 80 : goto reject-chain \}$/m,
  );
});

Deno.test("renderDiff() falls back to renderFull() when an affinity timeout changes", () => {
  const sticky = CASES.session_affinity!;
  const longer: Case = {
    ...sticky,
    services: [svc("default/sticky", {
      clusterIP: "10.96.0.60",
      sessionAffinity: "ClientIP",
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 900 } },
      ports: [{ port: 80 }],
    })],
  };
  assert.ok(needsFullRender(stateOf(sticky), stateOf(longer)));
  assert.equal(renderDiff(stateOf(sticky), stateOf(longer)), renderFull(stateOf(longer)));
  assert.ok(!needsFullRender(stateOf(TWO), stateOf(THREE)));
});

Deno.test("renderDiff() of one change among 10,000 services is proportional to the change", () => {
  const services: Service[] = [];
  const endpoints: Endpoints[] = [];
  for (let i = 0; i < 10_000; i++) {
    const key = `ns/s${i}`;
    const n = 256 + i;
    services.push(svc(key, { clusterIP: `10.96.${n >> 8}.${n & 255}`, ports: [{ port: 80 }] }));
    endpoints.push(
      eps(key, [{ ready: [`10.244.${i % 200}.${1 + (i % 250)}`], ports: [{ port: 80 }] }]),
    );
  }
  const before = buildProxyState(services, endpoints, NODE);
  const changed = [...endpoints];
  changed[5000] = eps("ns/s5000", [{ ready: ["10.244.9.1", "10.244.9.2"], ports: [{ port: 80 }] }]);
  const script = renderDiff(before, buildProxyState(services, changed, NODE));
  assert.ok(script.length < 2000, `diff is ${script.length} bytes`);
  assert.ok(renderFull(before).length > 1_000_000);
});

Deno.test("renderRemove() deletes the table even when it is absent", () => {
  assert.equal(renderRemove("edge-proxy"), "table ip edge-proxy {}\ndelete table ip edge-proxy\n");
});

Deno.test({
  name: "renderFull() goldens pass nft -c -f",
  ignore: SKIP !== undefined,
  async fn() {
    for (const name of Object.keys(CASES)) {
      const path = new URL(`${name}.nft`, TESTDATA).pathname;
      await run("nft", ["-c", "-f", path]);
    }
  },
});

Deno.test({
  name: "renderFull() and renderDiff() apply for real in a network namespace",
  ignore: SKIP !== undefined,
  async fn() {
    await withNetns(async (ns) => {
      const nft = (args: string[], stdin?: string) =>
        run("nsenter", [...enter(ns), "nft", ...args], stdin);
      const two = stateOf(TWO);
      const three = stateOf(THREE);
      await nft(["-f", "-"], renderFull(two));
      await nft(["-f", "-"], renderDiff(two, three));
      let listed = await nft(["list", "table", "ip", "edge-proxy"]);
      assert.match(listed, /numgen random mod 3 map @tcp-endpoints-3/);
      assert.match(listed, /10\.96\.0\.20 \. 80 \. 2 : 10\.244\.4\.2 \. 8080/);
      assert.match(listed, /10\.244\.4\.2 \. 10\.244\.4\.2/);

      // every golden state reached by diffs from the previous one, then back to nothing
      let prev = three;
      for (const c of [...Object.values(CASES), { services: [], endpoints: [] }]) {
        const next = stateOf(c);
        await nft(["-f", "-"], renderDiff(prev, next));
        prev = next;
      }
      listed = await nft(["list", "table", "ip", "edge-proxy"]);
      assert.doesNotMatch(listed, /chain (service|external|pick)-|set affinity-|10\.244\.[1-9]/);

      await nft(["-f", "-"], renderFull(three)); // a resync replaces a live table
      await nft(["-f", "-"], renderRemove("edge-proxy"));
      await nft(["-f", "-"], renderRemove("edge-proxy"));
      assert.equal(await nft(["list", "tables"]), "");
    });
  },
});

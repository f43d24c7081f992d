import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import { eps, NODE, svc } from "./_proxy_fixtures.ts";
import { enter, nftSkipReason, run, withNetns } from "./_nft_netns.ts";
import { FakeFirewall, type Firewall, NftFirewall } from "./firewall.ts";
import { Proxier, type ProxierOptions } from "./proxier.ts";

const WEB = svc("default/web", { clusterIP: "10.96.0.20", ports: [{ port: 80 }] });
const webEps = (...ready: string[]) => eps("default/web", [{ ready, ports: [{ port: 8080 }] }]);

function proxier(extra: Partial<ProxierOptions> = {}) {
  const firewall = new FakeFirewall();
  const clock = new FakeClock(1_000);
  const errors: unknown[] = [];
  const p = new Proxier({
    firewall,
    clock,
    node: NODE,
    onProblems: () => {},
    onError: (e) => errors.push(e),
    ...extra,
  });
  return { p, firewall, clock, errors };
}

Deno.test("Proxier.sync() replaces the whole table on the first sync", async () => {
  const { p, firewall } = proxier();
  p.update([WEB], [webEps("10.244.1.5")]);
  const result = await p.sync();
  assert.equal(result.mode, "full");
  assert.equal(firewall.scripts.length, 1);
  assert.match(firewall.scripts[0]!, /^table ip edge-proxy \{\}\ndelete table ip edge-proxy\n/);
  assert.ok(p.applied);
  await p.stop();
});

Deno.test("Proxier.sync() writes nothing when the state is unchanged", async () => {
  const { p, firewall } = proxier();
  p.update([WEB], [webEps("10.244.1.5")]);
  await p.sync();
  p.update([WEB], [webEps("10.244.1.5")]);
  assert.deepEqual(await p.sync(), { mode: "unchanged", bytes: 0 });
  assert.equal(firewall.scripts.length, 1);
  await p.stop();
});

Deno.test("Proxier.sync() writes only the difference for one endpoint change", async () => {
  const { p, firewall } = proxier();
  p.update([WEB], [webEps("10.244.1.5")]);
  await p.sync();
  p.update([WEB], [webEps("10.244.1.5", "10.244.2.6")]);
  const result = await p.sync();
  assert.equal(result.mode, "diff");
  const script = firewall.scripts[1]!;
  assert.doesNotMatch(script, /delete table|^table /m);
  assert.match(
    script,
    /^add element ip edge-proxy service-ips \{ 10\.96\.0\.20 \. tcp \. 80 : goto pick-tcp-2 \}$/m,
  );
  assert.match(
    script,
    /^add element ip edge-proxy tcp-endpoints-2 \{ .*10\.96\.0\.20 \. 80 \. 1 : 10\.244\.2\.6 \. 8080 \}$/m,
  );
  assert.match(
    script,
    /^add element ip edge-proxy hairpin-endpoints \{ 10\.244\.2\.6 \. 10\.244\.2\.6 \}$/m,
  );
  assert.equal(result.bytes, script.length);
  await p.stop();
});

Deno.test("Proxier.sync() replaces the whole table again after a failed apply", async () => {
  const { p, firewall } = proxier();
  p.update([WEB], [webEps("10.244.1.5")]);
  await p.sync();
  firewall.failNext(new Error("nft: boom"));
  p.update([WEB], [webEps("10.244.1.5", "10.244.2.6")]);
  await assert.rejects(p.sync(), /boom/);
  assert.equal(p.applied, undefined);
  const result = await p.sync();
  assert.equal(result.mode, "full");
  assert.match(firewall.scripts[2]!, /^table ip edge-proxy \{\}\ndelete table ip edge-proxy\n/);
  await p.stop();
});

Deno.test("Proxier.update() coalesces a burst into syncs at most minSyncIntervalMs apart", async () => {
  const { p, firewall, clock } = proxier({ minSyncIntervalMs: 10 });
  p.update([WEB], []);
  p.update([WEB], [webEps("10.244.1.5")]);
  await clock.advance(0);
  assert.equal(firewall.scripts.length, 1, "the first sync runs at once, with the latest input");
  assert.match(firewall.scripts[0]!, /: 10\.244\.1\.5 \. 8080/);

  p.update([WEB], [webEps("10.244.1.5", "10.244.2.6")]);
  p.update([WEB], [webEps("10.244.1.5", "10.244.2.6", "10.244.3.7")]);
  await clock.advance(5);
  assert.equal(firewall.scripts.length, 1, "no second sync before the interval");
  await clock.advance(5);
  assert.equal(firewall.scripts.length, 2);
  assert.match(firewall.scripts[1]!, /numgen random mod 3/);
  await p.idle();
  await p.stop();
});

Deno.test("Proxier retries a failed background sync with a full render, backing off", async () => {
  const { p, firewall, clock, errors } = proxier({ retryIntervalMs: 1000 });
  firewall.failNext();
  firewall.failNext();
  p.update([WEB], [webEps("10.244.1.5")]);
  await clock.advance(0);
  assert.equal(firewall.scripts.length, 1);
  assert.equal(errors.length, 1);
  await clock.advance(999);
  assert.equal(firewall.scripts.length, 1);
  await clock.advance(1);
  assert.equal(firewall.scripts.length, 2, "first retry after retryIntervalMs");
  await clock.advance(1999);
  assert.equal(firewall.scripts.length, 2);
  await clock.advance(1);
  assert.equal(firewall.scripts.length, 3, "second retry after twice as long");
  assert.equal(firewall.scripts[0], firewall.scripts[2]);
  await p.idle();
  assert.ok(p.applied);
  assert.equal(errors.length, 2);
  await p.stop();
});

Deno.test("Proxier.stop() removes the table only when asked to", async () => {
  const kept = proxier();
  kept.p.update([WEB], []);
  await kept.clock.advance(0);
  await kept.p.stop();
  assert.equal(kept.firewall.removed, 0);

  const { p, firewall, clock } = proxier();
  p.update([WEB], []);
  await clock.advance(0);
  await p.stop({ removeTable: true });
  assert.equal(firewall.removed, 1);
  assert.equal(p.applied, undefined);
  p.update([WEB], [webEps("10.244.1.5")]);
  await clock.advance(100);
  assert.equal(firewall.scripts.length, 1, "a stopped proxier writes nothing");
  await assert.rejects(p.sync(), /stopped/);
});

Deno.test("Proxier reports skipped objects when the list changes", async () => {
  const reports: string[][] = [];
  const { p } = proxier({ onProblems: (problems) => reports.push([...problems]) });
  p.update([WEB], [webEps("10.244.1.5", "127.0.0.1")]);
  await p.sync();
  p.update([WEB], [webEps("10.244.1.6", "127.0.0.1")]);
  await p.sync();
  p.update([WEB], [webEps("10.244.1.6")]);
  await p.sync();
  assert.equal(reports.length, 2);
  assert.match(reports[0]![0]!, /endpoint '127\.0\.0\.1' may not be a loopback address/);
  assert.deepEqual(reports[1], []);
  await p.stop();
});

Deno.test("net/proxier.ts and net/firewall.ts load without npm (the agent runs with --no-npm)", async () => {
  const urls = ["./proxier.ts", "./firewall.ts", "./mod.ts"].map((f) =>
    new URL(f, import.meta.url)
  );
  const code = urls.map((u) => `import ${JSON.stringify(u.href)};`).join("\n");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-npm", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
});

Deno.test({
  name: "Proxier programs nft in a namespace, takes over after a restart and uninstalls",
  ignore: (await nftSkipReason()) !== undefined,
  async fn() {
    await withNetns(async (netns) => {
      const nft = new NftFirewall({ netns });
      const scripts: string[] = [];
      const firewall: Firewall = {
        apply: (script) => (scripts.push(script), nft.apply(script)),
        remove: () => nft.remove(),
      };
      const quiet = { onProblems: () => {}, onError: (e: unknown) => scripts.push(`error ${e}`) };
      const full = /^table ip edge-proxy \{\}\ndelete table ip edge-proxy\n/;

      const first = new Proxier({ firewall, node: NODE, ...quiet });
      first.update([WEB], [webEps("10.244.1.5")]);
      await first.idle();
      first.update([WEB], [webEps("10.244.1.5", "10.244.2.6")]);
      await first.idle();
      assert.equal(scripts.length, 2, scripts.join("\n"));
      assert.match(scripts[0]!, full);
      assert.doesNotMatch(scripts[1]!, full);
      assert.match(await nft.list(), /: 10\.244\.2\.6 \. 8080/);
      await first.stop(); // an agent restart keeps the table

      const second = new Proxier({ firewall, node: NODE, ...quiet });
      second.update([WEB], [webEps("10.244.2.6")]);
      await second.idle();
      assert.equal(scripts.length, 3, scripts.join("\n"));
      assert.match(scripts[2]!, full, "a restarted proxier replaces the table it finds");
      const listed = await nft.list();
      assert.doesNotMatch(listed, /10\.244\.1\.5/);
      assert.match(listed, /: 10\.244\.2\.6 \. 8080/);
      await second.stop({ removeTable: true });
      assert.equal(await run("nsenter", [...enter(netns), "nft", "list", "tables"]), "");
    });
  },
});

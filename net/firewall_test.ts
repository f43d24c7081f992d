import assert from "node:assert/strict";
import { enter, nftSkipReason, run, withNetns } from "./_nft_netns.ts";
import { FakeFirewall, NftFirewall } from "./firewall.ts";

const SKIP = await nftSkipReason();

Deno.test("NftFirewall refuses an invalid namespace or table name", () => {
  assert.throws(() => new NftFirewall({ netns: "../x" }), /invalid name/);
  assert.throws(() => new NftFirewall({ table: "a b" }), /invalid name/);
});

Deno.test({
  name: "NftFirewall.apply() runs nft -f - in a namespace; list() and remove() act on the table",
  ignore: SKIP !== undefined,
  async fn() {
    await withNetns(async (netns) => {
      const fw = new NftFirewall({ netns });
      await fw.apply("table ip edge-proxy {\n\tchain c {\n\t\tcounter\n\t}\n}\n");
      assert.match(await fw.list(), /chain c \{/);
      await assert.rejects(fw.apply("add rule ip edge-proxy c bogus\n"), (e: Error) => {
        assert.match(e.message, /^nft -f - failed \(exit 1\): .*Error/s);
        return true;
      });
      await fw.remove();
      await fw.remove();
      assert.equal(await run("nsenter", [...enter(netns), "nft", "list", "tables"]), "");
    });
  },
});

Deno.test("FakeFirewall records scripts and fails when told to", async () => {
  const fw = new FakeFirewall();
  await fw.apply("a");
  fw.failNext(new Error("nope"));
  await assert.rejects(fw.apply("b"), /nope/);
  await fw.apply("c");
  await fw.remove();
  assert.deepEqual(fw.scripts, ["a", "b", "c"]);
  assert.equal(fw.removed, 1);
});

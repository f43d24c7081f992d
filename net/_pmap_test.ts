import assert from "node:assert/strict";
import { PMap } from "./_pmap.ts";

Deno.test("PMap.edit() makes a new version and leaves the old one as it was", () => {
  const edit = PMap.empty<number>().edit();
  edit.set("a", 1);
  edit.set("b", 2);
  const one = edit.finish();
  const next = one.edit();
  next.set("a", 10);
  next.delete("b");
  next.set("c", 3);
  const two = next.finish();
  assert.deepEqual([...one.entries()].sort(), [["a", 1], ["b", 2]]);
  assert.deepEqual([...two.entries()].sort(), [["a", 10], ["c", 3]]);
  assert.equal(two.get("b"), undefined);
  assert.ok(!two.has("b") && one.has("b"));
});

Deno.test("PMap keeps every version right across many edits and folds", () => {
  const versions: PMap<number>[] = [];
  const truth: Map<string, number>[] = [];
  let map = PMap.empty<number>();
  let model = new Map<string, number>();
  for (let i = 0; i < 600; i++) {
    const edit = map.edit();
    model = new Map(model);
    for (let j = 0; j < 7; j++) {
      const key = `k${(i * 7 + j * 13) % 97}`;
      if ((i + j) % 3 === 0) {
        edit.delete(key);
        model.delete(key);
      } else {
        edit.set(key, i * 10 + j);
        model.set(key, i * 10 + j);
      }
    }
    map = edit.finish();
    versions.push(map);
    truth.push(model);
  }
  for (const [i, version] of versions.entries()) {
    assert.deepEqual(
      [...version.entries()].sort(),
      [...truth[i]!.entries()].sort(),
      `version ${i}`,
    );
  }
});

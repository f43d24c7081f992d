import assert from "node:assert/strict";
import { alignTabs } from "./_tabwriter.ts";

Deno.test("alignTabs() pads every cell but the last to the widest in its column", () => {
  assert.equal(
    alignTabs("NAME\tDATA\tAGE\napp\t1\t5m\nlong-name\t12\t3d\n", 3),
    "NAME        DATA   AGE\napp         1      5m\nlong-name   12     3d\n",
  );
});

Deno.test("alignTabs() aligns only blocks of adjacent lines that share a column", () => {
  const text = "Name:\tapp\nNamespace:\tdefault\n\nData\n====\nk:\tv\n";
  assert.equal(
    alignTabs(text, 2),
    "Name:       app\nNamespace:  default\n\nData\n====\nk:  v\n",
  );
});

Deno.test("alignTabs() aligns a nested column only where lines have it", () => {
  assert.equal(
    alignTabs("Port:\thttp\t80/TCP\nTargetPort:\t8080/TCP\n", 2),
    "Port:        http  80/TCP\nTargetPort:  8080/TCP\n",
  );
});

import assert from "node:assert/strict";
import { logTail, readTerminationFile } from "./termination.ts";

function stream(text: string, chunk = 100): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(at, at += chunk));
    },
  });
}

Deno.test("logTail() keeps the last 80 lines, and of those the last 2048 bytes", async () => {
  const lines = Array.from({ length: 200 }, (_, i) => `line ${i}`).join("\n") + "\n";
  const tail = await logTail(stream(lines));
  assert.ok(tail.startsWith("line 120\n") && tail.endsWith("line 199\n"));
  const long = Array.from({ length: 10 }, (_, i) => `${i}`.repeat(500)).join("\n");
  const bounded = await logTail(stream(long));
  assert.equal(new TextEncoder().encode(bounded).length, 2048);
  assert.ok(bounded.endsWith("9".repeat(500)));
  assert.equal(await logTail(stream("")), "");
});

Deno.test("readTerminationFile() reads at most 4096 bytes, and nothing of a missing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/m`, "x".repeat(5000));
    assert.equal((await readTerminationFile(`${dir}/m`)).length, 4096);
    assert.equal(await readTerminationFile(`${dir}/missing`), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

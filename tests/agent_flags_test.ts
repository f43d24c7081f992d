/**
 * The agent's `deno run` flags ({@linkcode AGENT_DENO_FLAGS}): `deno task agent` uses exactly
 * them, and the agent's whole module graph loads under them (no deno.json, no npm).
 */

import assert from "node:assert/strict";
import { AGENT_DENO_FLAGS } from "../mod.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("deno task agent runs mod.ts agent with AGENT_DENO_FLAGS", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as {
    tasks: Record<string, string>;
  };
  assert.equal(config.tasks.agent, `deno run ${AGENT_DENO_FLAGS.join(" ")} mod.ts agent`);
});

Deno.test("node/agent.ts and mod.ts load with AGENT_DENO_FLAGS (no deno.json, no npm)", async () => {
  for (const entry of ["node/agent.ts", "mod.ts"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...AGENT_DENO_FLAGS, entry, ...(entry === "mod.ts" ? ["--help"] : [])],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, `${entry}: ${new TextDecoder().decode(out.stderr)}`);
  }
});

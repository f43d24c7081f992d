import assert from "node:assert/strict";
import { type FlagSpec, parseArgs, stringFlag, stringsFlag, UsageError } from "./_args.ts";

const SPECS: FlagSpec[] = [
  { name: "namespace", short: "n", type: "string" },
  { name: "filename", short: "f", type: "strings" },
  { name: "watch", short: "w", type: "bool" },
  { name: "output", short: "o", type: "string" },
];

Deno.test("parseArgs() accepts flags in every pflag spelling among positionals", () => {
  const parsed = parseArgs(
    ["get", "-n", "web", "cm", "--output=yaml", "-w", "app", "-fa.yaml,b.yaml", "--filename", "c"],
    SPECS,
  );
  assert.deepEqual(parsed.positionals, ["get", "cm", "app"]);
  assert.equal(stringFlag(parsed, "namespace"), "web");
  assert.equal(stringFlag(parsed, "output"), "yaml");
  assert.equal(parsed.flags.get("watch"), true);
  assert.deepEqual(stringsFlag(parsed, "filename"), ["a.yaml", "b.yaml", "c"]);
});

Deno.test("parseArgs() reads -n=ns, -oyaml, --watch=false and stops at --", () => {
  const parsed = parseArgs(["-n=kube", "-oyaml", "--watch=false", "--", "-x"], SPECS);
  assert.equal(stringFlag(parsed, "namespace"), "kube");
  assert.equal(stringFlag(parsed, "output"), "yaml");
  assert.equal(parsed.flags.get("watch"), false);
  assert.deepEqual(parsed.positionals, ["-x"]);
});

Deno.test("parseArgs() keeps '-' (stdin) as a value of -f", () => {
  assert.deepEqual(stringsFlag(parseArgs(["-f", "-"], SPECS), "filename"), ["-"]);
});

Deno.test("parseArgs() rejects unknown flags and missing values with pflag's wording", () => {
  assert.throws(() => parseArgs(["--bogus"], SPECS), new UsageError("unknown flag: --bogus"));
  assert.throws(
    () => parseArgs(["-x"], SPECS),
    new UsageError("unknown shorthand flag: 'x' in -x"),
  );
  assert.throws(
    () => parseArgs(["-n"], SPECS),
    new UsageError("flag needs an argument: 'n' in -n"),
  );
});

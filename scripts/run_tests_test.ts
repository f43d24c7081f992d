import assert from "node:assert/strict";
import { parseSummaryLine } from "./run_tests.ts";

Deno.test("parseSummaryLine() reads tests, not steps, and the ignored count", () => {
  assert.deepEqual(parseSummaryLine("ok | 1198 passed (100 steps) | 0 failed (5m46s)"), {
    passed: 1198,
    failed: 0,
    ignored: 0,
  });
  assert.deepEqual(
    parseSummaryLine(
      "\x1b[0m\x1b[31mFAILED\x1b[0m | 12 passed (3 steps) | 2 failed (1 step) | 4 ignored (2s)",
    ),
    { passed: 12, failed: 2, ignored: 4 },
  );
  assert.deepEqual(
    parseSummaryLine("ok | 3 passed | 0 failed | 1 ignored | 2 filtered out (9ms)"),
    {
      passed: 3,
      failed: 0,
      ignored: 1,
    },
  );
  assert.equal(parseSummaryLine("running 3 tests from ./x_test.ts"), undefined);
  assert.equal(parseSummaryLine("3 passed, 0 failed"), undefined);
});

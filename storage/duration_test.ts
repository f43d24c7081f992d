import assert from "node:assert/strict";
import { humanDuration, timestampSince } from "./duration.ts";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

Deno.test("humanDuration() matches Kubernetes' HumanDuration table", () => {
  const cases: [number, string][] = [
    [-2 * S, "<invalid>"],
    [-1 * S, "0s"],
    [0, "0s"],
    [5 * S, "5s"],
    [119 * S, "119s"],
    [2 * M, "2m"],
    [3 * M + 2 * S, "3m2s"],
    [9 * M + 59 * S, "9m59s"],
    [10 * M, "10m"],
    [179 * M, "179m"],
    [3 * H, "3h"],
    [3 * H + 5 * M, "3h5m"],
    [7 * H + 59 * M, "7h59m"],
    [8 * H, "8h"],
    [47 * H + 59 * M, "47h"],
    [2 * D, "2d"],
    [2 * D + 5 * H, "2d5h"],
    [7 * D + 23 * H, "7d23h"],
    [8 * D, "8d"],
    [729 * D, "729d"],
    [730 * D, "2y"],
    [3 * 365 * D + 45 * D, "3y45d"],
    [8 * 365 * D, "8y"],
    [10 * 365 * D + 100 * D, "10y"],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
});

Deno.test("timestampSince() is <unknown> for absent or unparsable timestamps", () => {
  const now = new Date("2024-01-01T00:10:00Z");
  assert.equal(timestampSince(undefined, now), "<unknown>");
  assert.equal(timestampSince("", now), "<unknown>");
  assert.equal(timestampSince("yesterday-ish", now), "<unknown>");
  assert.equal(timestampSince("2024-01-01T00:00:00Z", now), "10m");
});

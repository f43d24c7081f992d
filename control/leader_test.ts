import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import { microTime } from "../storage/time.ts";
import type { KubeObject } from "../storage/object.ts";
import { storeWithNamespaces } from "./_testing.ts";
import { LeaderElection } from "./leader.ts";

const LEASE = "/coordination.k8s.io/leases/kube-system/edge-controller-manager";

/** Runs an election whose `lead` records when it led and waits until its term ends. */
function candidate(election: LeaderElection, log: string[], who: string) {
  return election.run(async (signal) => {
    log.push(`${who} leads`);
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    log.push(`${who} stops`);
  });
}

Deno.test("LeaderElection: one of two candidates leads; the other takes over when it lets go", async () => {
  const store = await storeWithNamespaces();
  const clock = new FakeClock(Date.parse("2026-11-22T00:00:00Z"));
  const log: string[] = [];
  const options = { store, clock, leaseDurationSeconds: 15, retryMs: 2000 };
  const a = new LeaderElection({ ...options, identity: "cp-a" });
  const b = new LeaderElection({ ...options, identity: "cp-b" });
  try {
    const runA = candidate(a, log, "a");
    await clock.advance(0);
    const runB = candidate(b, log, "b");
    await clock.advance(10_000);
    assert.deepEqual(log, ["a leads"]);
    const lease = (await store.get(LEASE)) as KubeObject & { spec: Record<string, unknown> };
    assert.equal(lease.spec.holderIdentity, "cp-a");
    assert.equal(lease.spec.renewTime, "2026-11-22T00:00:10.000000Z");

    // a stops and gives the lease up: b takes over at its next try
    await a.stop();
    await runA;
    assert.deepEqual(log, ["a leads", "a stops"]);
    await clock.advance(2_000);
    assert.deepEqual(log, ["a leads", "a stops", "b leads"]);
    const taken = (await store.get(LEASE)) as KubeObject & { spec: Record<string, unknown> };
    assert.equal(taken.spec.holderIdentity, "cp-b");
    assert.equal(taken.spec.leaseTransitions, 1);
    await b.stop();
    await runB;
    assert.deepEqual(log.at(-1), "b stops");
  } finally {
    await a.stop();
    await b.stop();
    await store.close();
  }
});

Deno.test("LeaderElection: a leader whose lease is taken stops leading; a dead one's expires", async () => {
  const store = await storeWithNamespaces();
  const clock = new FakeClock(Date.parse("2026-11-22T00:00:00Z"));
  const log: string[] = [];
  const a = new LeaderElection({ store, clock, identity: "cp-a", retryMs: 2000 });
  try {
    const run = candidate(a, log, "a");
    await clock.advance(0);
    assert.deepEqual(log, ["a leads"]);
    // someone else holds the lease now, for an hour (as if a's renewals had been lost)
    const lease = (await store.get(LEASE))!;
    const spec = { ...(lease.spec as object), holderIdentity: "cp-z", leaseDurationSeconds: 3600 };
    await store.update(LEASE, { ...lease, spec });
    await clock.advance(14_000);
    assert.deepEqual(log, ["a leads"]);
    await clock.advance(2_000);
    assert.deepEqual(log, ["a leads", "a stops"]);
    await a.stop();
    await run;

    // cp-z dies holding a 15 s lease: a new candidate leads once it has expired
    const held = (await store.get(LEASE))!;
    await store.update(LEASE, {
      ...held,
      spec: {
        ...(held.spec as object),
        leaseDurationSeconds: 15,
        renewTime: microTime(clock.now()),
      },
    });
    const c = new LeaderElection({ store, clock, identity: "cp-c", retryMs: 2000 });
    const runC = candidate(c, log, "c");
    await clock.advance(14_000);
    assert.equal(log.includes("c leads"), false);
    await clock.advance(2_000);
    assert.equal(log.at(-1), "c leads");
    await c.stop();
    await runC;
  } finally {
    await store.close();
  }
});

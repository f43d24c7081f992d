import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import type { KubeObject } from "../storage/object.ts";
import { FakeRuntime } from "./fake_runtime.ts";
import { logHandler } from "./log_server.ts";
import { TEST_IMAGE, testContainer, testSandbox } from "./_runtime_test_fixtures.ts";

const IMAGE = TEST_IMAGE;
const TOKEN = "agent-token";
const POD: KubeObject = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "web", namespace: "default", uid: "u1" },
};

const container = (name: string, attempt: number) => testContainer("u1", name, { attempt });

/**
 * Pod default/web on a FakeClock at 1000: container "app" crashed once ("first" in its log) and
 * runs again ("second"), container "solo" runs and never restarted.
 */
async function setup() {
  const clock = new FakeClock(1000);
  const runtime = new FakeRuntime(clock);
  runtime.images.add(IMAGE);
  runtime.script("app", { kind: "exit", exitCode: 1, logs: ["first"] }, {
    kind: "run",
    logs: ["second"],
  });
  runtime.script("solo", { kind: "run", logs: ["alone"] });
  await runtime.createSandbox(testSandbox("u1", { podName: "web", hostname: "web" }));
  await runtime.runContainer(container("app", 0));
  await runtime.runContainer(container("app", 1));
  await runtime.runContainer(container("solo", 0));
  const handler = logHandler({
    runtime,
    token: TOKEN,
    findPod: (namespace, name) => namespace === "default" && name === "web" ? POD : undefined,
  });
  const get = (path: string, token = TOKEN) =>
    handler(
      new Request(`https://node:10250${path}`, { headers: { authorization: `Bearer ${token}` } }),
    );
  return { clock, runtime, get };
}

async function status(response: Response): Promise<[number, string, string]> {
  const body = await response.json() as { reason: string; message: string };
  return [response.status, body.reason, body.message];
}

Deno.test("logHandler() wants the agent's token, and answers unknown paths and pods with 404", async () => {
  const { get } = await setup();
  assert.deepEqual((await status(await get("/containerLogs/default/web/app", "other")))[0], 401);
  assert.deepEqual(
    (await status(await get("/containerLogs/default/nope/app")))[1],
    "NotFound",
  );
  assert.equal((await get("/containerLogs/default/web")).status, 404);
  assert.equal((await get("/containerLogs/default/WEB/app")).status, 404);
});

Deno.test("logHandler() serves the current instance, and with previous=true the one before it", async () => {
  const { get } = await setup();
  assert.equal(await (await get("/containerLogs/default/web/app")).text(), "second\n");
  assert.equal(await (await get("/containerLogs/default/web/app?previous=true")).text(), "first\n");
  // previous is never followed: the response ends
  assert.equal(
    await (await get("/containerLogs/default/web/app?previous=true&follow=true")).text(),
    "first\n",
  );
  assert.deepEqual(await status(await get("/containerLogs/default/web/solo?previous=true")), [
    400,
    "BadRequest",
    'previous terminated container "solo" in pod "web" not found',
  ]);
  assert.deepEqual(await status(await get("/containerLogs/default/web/ghost")), [
    400,
    "BadRequest",
    'container "ghost" in pod "web" is waiting to start: ContainerCreating',
  ]);
});

Deno.test("logHandler() passes tailLines, timestamps and sinceSeconds on, and refuses bad numbers", async () => {
  const { clock, runtime, get } = await setup();
  await clock.advance(60_000);
  runtime.writeLog("app", "late-1");
  runtime.writeLog("app", "late-2");
  const text = async (query: string) =>
    await (await get(`/containerLogs/default/web/app?${query}`)).text();
  assert.equal(await text("tailLines=1"), "late-2\n");
  assert.equal(await text("sinceSeconds=30"), "late-1\nlate-2\n");
  assert.equal(await text("sinceSeconds=120"), "second\nlate-1\nlate-2\n");
  assert.equal(await text("tailLines=1&timestamps=true"), "1970-01-01T00:01:01.000Z late-2\n");
  for (const bad of ["tailLines=-1", "tailLines=x", "sinceSeconds=1e3"]) {
    const [code, reason] = await status(await get(`/containerLogs/default/web/app?${bad}`));
    assert.deepEqual([code, reason], [400, "BadRequest"], bad);
  }
});

Deno.test("logHandler() follows a running container until the client goes away", async () => {
  const { clock, runtime, get } = await setup();
  const response = await get("/containerLogs/default/web/solo?follow=true");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  assert.deepEqual(await reader.read(), { value: "alone\n", done: false });
  await clock.advance(1000);
  runtime.writeLog("solo", "later");
  assert.deepEqual(await reader.read(), { value: "later\n", done: false });
  await reader.cancel();
  runtime.writeLog("solo", "unread");
});

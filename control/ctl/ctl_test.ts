import assert from "node:assert/strict";
import { runCtl } from "./ctl.ts";
import { fakeFetch, run, status, TEST_TYPES } from "./_testing.ts";

async function capture(args: string[], fetchFn?: typeof fetch, env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runCtl(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env,
    resources: TEST_TYPES,
    ...(fetchFn ? { fetch: fetchFn } : {}),
  });
  return { code, stdout, stderr };
}

Deno.test("runCtl() --help and COMMAND --help print usage and exit 0", async () => {
  const top = await capture(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^ctl controls the edge cluster/);
  const get = await capture(["get", "--help"]);
  assert.equal(get.code, 0);
  assert.match(get.stdout, /^Display one or many resources\./);
});

Deno.test("runCtl() prints usage on an unknown command or flag and exits 1", async () => {
  const unknown = await capture(["frobnicate"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^error: unknown command "frobnicate" for "ctl"\n\nctl controls/);
  const flag = await capture(["get", "pods", "--bogus"]);
  assert.equal(flag.code, 1);
  assert.match(flag.stderr, /^error: unknown flag: --bogus\n\nDisplay one or many resources/);
});

Deno.test("runCtl() names the server when the connection is refused", async () => {
  const refused: typeof fetch = () =>
    Promise.reject(
      new TypeError("error sending request for url (http://127.0.0.1:1/api/v1/pods)", {
        cause: new Error("tcp connect error: Connection refused (os error 111)"),
      }),
    );
  const res = await capture(["-s", "http://127.0.0.1:1", "get", "pods"], refused);
  assert.equal(res.code, 1);
  assert.equal(
    res.stderr,
    "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?\n",
  );
});

Deno.test("runCtl() connects to a real refusing port with Deno's fetch", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const res = await capture(["get", "pods", "--server", `http://127.0.0.1:${port}`], fetch);
  assert.equal(
    res.stderr,
    `The connection to the server 127.0.0.1:${port} was refused - did you specify the right host or port?\n`,
  );
});

Deno.test("runCtl() prints Unauthorized and other server errors as kubectl does", async () => {
  const unauthorized = fakeFetch(() => ({
    status: 401,
    body: status("Unauthorized", 401, "Unauthorized"),
  }));
  const res = await run(["get", "pods"], unauthorized.fetch);
  assert.equal(res.stderr, "error: You must be logged in to the server (Unauthorized)\n");
  const plain = fakeFetch(() => ({ status: 500, text: "boom" }));
  const internal = await run(["get", "pods"], plain.fetch);
  assert.equal(
    internal.stderr,
    'Error from server (InternalError): an error on the server ("boom") has prevented the request from succeeding\n',
  );
});

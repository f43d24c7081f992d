import assert from "node:assert/strict";
import { ApiError } from "../../storage/status.ts";
import { END_GROUP, LEN, START_GROUP, VARINT, WireReader } from "./_protobuf_wire.ts";

function throwsBadRequest(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.reason, "BadRequest");
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("WireReader.varint() reads up to 64 bits and drops bits beyond them, as Go does", () => {
  assert.equal(new WireReader(new Uint8Array([0x96, 0x01])).varint(), 150n);
  const max = new Uint8Array([...Array(9).fill(0xff), 0x01]);
  assert.equal(new WireReader(max).varint(), 2n ** 64n - 1n);
  const overflowing = new Uint8Array([...Array(9).fill(0xff), 0x7f]);
  assert.equal(new WireReader(overflowing).varint(), 2n ** 64n - 1n);
});

Deno.test("WireReader.varint() rejects an 11th byte and a varint cut short", () => {
  throwsBadRequest(
    () => new WireReader(new Uint8Array([...Array(10).fill(0x80), 0x01])).varint(),
    /longer than 10 bytes at byte 0/,
  );
  throwsBadRequest(
    () => new WireReader(new Uint8Array([0x80, 0x80]), 40).varint(),
    /truncated varint at byte 40/,
  );
});

Deno.test("WireReader.tag() splits the key into field number and wire type", () => {
  assert.deepEqual(new WireReader(new Uint8Array([0xa2, 0x01])).tag(), { field: 20, wire: LEN });
  throwsBadRequest(() => new WireReader(new Uint8Array([0x0e])).tag(), /invalid wire type 6/);
});

Deno.test("WireReader.sub() bounds a length-delimited payload and tracks its absolute offset", () => {
  const r = new WireReader(new Uint8Array([0x02, 0x61, 0x62, 0x08]), 10);
  const sub = r.sub();
  assert.deepEqual([...sub.bytes], [0x61, 0x62]);
  assert.equal(sub.at, 11);
  assert.equal(r.at, 13);
  throwsBadRequest(
    () => new WireReader(new Uint8Array([0x05, 0x00])).sub(),
    /length 5 at byte 0 runs past the end \(1 bytes left\)/,
  );
});

Deno.test("WireReader.skip() skips nested groups to their matching end", () => {
  // group 1 { varint 2; group 3 { } } then varint field 4 = 9
  const r = new WireReader(new Uint8Array([0x10, 0x05, 0x1b, 0x1c, 0x0c, 0x20, 0x09]));
  r.skip({ field: 1, wire: START_GROUP });
  assert.deepEqual(r.tag(), { field: 4, wire: VARINT });
  assert.equal(r.varint(), 9n);
  assert.ok(r.done);
  throwsBadRequest(
    () => new WireReader(new Uint8Array()).skip({ field: 2, wire: END_GROUP }),
    /unexpected end of group/,
  );
});

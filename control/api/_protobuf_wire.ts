/**
 * Protobuf wire-format reading: tags, varints, length-delimited slices, and skipping the
 * fields a caller does not know. Every malformed input becomes a 400 `ApiError`; nothing else
 * is ever thrown.
 *
 * @module
 */

import { ApiError } from "../../storage/status.ts";

/** Wire type 0: varint (int32, int64, bool, enum). */
export const VARINT = 0;
/** Wire type 1: 8 little-endian bytes (double, fixed64); only ever skipped here. */
export const FIXED64 = 1;
/** Wire type 2: a varint length, then that many bytes (string, bytes, message, packed). */
export const LEN = 2;
/** Wire type 3: start of a (deprecated) group. */
export const START_GROUP = 3;
/** Wire type 4: end of a (deprecated) group. */
export const END_GROUP = 4;
/** Wire type 5: 4 little-endian bytes (float, fixed32); only ever skipped here. */
export const FIXED32 = 5;

/** A 400 for a body that is not valid protobuf, naming what was wrong and where. */
export function malformed(what: string): ApiError {
  return ApiError.badRequest(`Cannot decode protobuf body: ${what}`);
}

/** A field key: the field number and its wire type. */
export interface Tag {
  field: number;
  wire: number;
}

/**
 * A cursor over one protobuf message. `offset` is where `bytes` starts in the whole body, so
 * error messages point at the byte a client can look up in its own dump.
 */
export class WireReader {
  #pos = 0;

  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  /** True once every byte has been consumed. */
  get done(): boolean {
    return this.#pos >= this.bytes.length;
  }

  /** The absolute position of the cursor within the whole body. */
  get at(): number {
    return this.offset + this.#pos;
  }

  /** Reads a varint of at most 10 bytes (64 bits), as Go's decoder does. */
  varint(): bigint {
    const start = this.at;
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = this.bytes[this.#pos];
      if (b === undefined) throw malformed(`truncated varint at byte ${start}`);
      this.#pos++;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
    }
    throw malformed(`varint longer than 10 bytes at byte ${start}`);
  }

  /** Reads a field key. Field number 0 and wire types 6 and 7 do not exist. */
  tag(): Tag {
    const start = this.at;
    const key = this.varint();
    const wire = Number(key & 7n);
    const field = key >> 3n;
    if (field === 0n || field > 0x1fffffffn) {
      throw malformed(`invalid field number ${field} at byte ${start}`);
    }
    if (wire > FIXED32) throw malformed(`invalid wire type ${wire} at byte ${start}`);
    return { field: Number(field), wire };
  }

  /** Reads a length-delimited payload and returns a reader over just those bytes. */
  sub(): WireReader {
    const start = this.at;
    const length = this.varint();
    const left = this.bytes.length - this.#pos;
    if (length > BigInt(left)) {
      throw malformed(`length ${length} at byte ${start} runs past the end (${left} bytes left)`);
    }
    const n = Number(length);
    const reader = new WireReader(this.bytes.subarray(this.#pos, this.#pos + n), this.at);
    this.#pos += n;
    return reader;
  }

  #fixed(n: number): void {
    if (this.bytes.length - this.#pos < n) {
      throw malformed(`truncated ${n * 8}-bit value at byte ${this.at}`);
    }
    this.#pos += n;
  }

  /** Skips the value of a field this decoder does not know, including whole groups. */
  skip(tag: Tag): void {
    if (tag.wire === END_GROUP) throw malformed(`unexpected end of group before byte ${this.at}`);
    const open: number[] = [];
    let current: Tag = tag;
    for (;;) {
      switch (current.wire) {
        case VARINT:
          this.varint();
          break;
        case FIXED64:
          this.#fixed(8);
          break;
        case LEN:
          this.sub();
          break;
        case FIXED32:
          this.#fixed(4);
          break;
        case START_GROUP:
          open.push(current.field);
          break;
        case END_GROUP:
          if (open.at(-1) !== current.field) {
            throw malformed(`mismatched end of group ${current.field} before byte ${this.at}`);
          }
          open.pop();
          break;
      }
      if (open.length === 0) return;
      if (this.done) throw malformed(`unterminated group ${open.at(-1)} at end of message`);
      current = this.tag();
    }
  }
}

/**
 * Hand-written Yjs V1 updates, for hostile inputs the Yjs API would never produce (forged origins,
 * structs overlapping what the server has, references to unknown content). Follows Yjs' V1 layout:
 * per client: struct count, client, first clock, then each struct's info byte and fields.
 */
import * as encoding from 'lib0/encoding';

export interface RawId {
  client: number;
  clock: number;
}

export type RawStruct =
  | { kind: 'item'; client: number; clock: number; origin?: RawId; right?: RawId; parent?: string; parentSub?: string; any?: unknown[]; deleted?: number }
  | { kind: 'gc'; client: number; clock: number; len: number };

const CONTENT_DELETED = 1;
const CONTENT_ANY = 8;
const HAS_ORIGIN = 128;
const HAS_RIGHT_ORIGIN = 64;
const HAS_PARENT_SUB = 32;

export function encodeUpdateV1(structs: RawStruct[], deletes: Array<{ client: number; ranges: Array<[clock: number, len: number]> }> = []): Uint8Array {
  const byClient = new Map<number, RawStruct[]>();
  for (const s of structs) {
    const list = byClient.get(s.client) ?? [];
    list.push(s);
    byClient.set(s.client, list);
  }
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, byClient.size);
  for (const [client, list] of byClient) {
    encoding.writeVarUint(e, list.length);
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, list[0]!.clock);
    for (const s of list) {
      if (s.kind === 'gc') {
        encoding.writeUint8(e, 0);
        encoding.writeVarUint(e, s.len);
        continue;
      }
      const info = (s.deleted !== undefined ? CONTENT_DELETED : CONTENT_ANY) | (s.origin ? HAS_ORIGIN : 0) | (s.right ? HAS_RIGHT_ORIGIN : 0) | (s.parentSub !== undefined ? HAS_PARENT_SUB : 0);
      encoding.writeUint8(e, info);
      if (s.origin) {
        encoding.writeVarUint(e, s.origin.client);
        encoding.writeVarUint(e, s.origin.clock);
      }
      if (s.right) {
        encoding.writeVarUint(e, s.right.client);
        encoding.writeVarUint(e, s.right.clock);
      }
      if (!s.origin && !s.right) {
        encoding.writeVarUint(e, 1);
        encoding.writeVarString(e, s.parent ?? '');
        if (s.parentSub !== undefined) encoding.writeVarString(e, s.parentSub);
      }
      if (s.deleted !== undefined) {
        encoding.writeVarUint(e, s.deleted);
      } else {
        encoding.writeVarUint(e, s.any?.length ?? 0);
        for (const value of s.any ?? []) encoding.writeAny(e, value as Parameters<typeof encoding.writeAny>[1]);
      }
    }
  }
  encoding.writeVarUint(e, deletes.length);
  for (const d of deletes) {
    encoding.writeVarUint(e, d.client);
    encoding.writeVarUint(e, d.ranges.length);
    for (const [clock, len] of d.ranges) {
      encoding.writeVarUint(e, clock);
      encoding.writeVarUint(e, len);
    }
  }
  return encoding.toUint8Array(e);
}

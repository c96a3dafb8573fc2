/**
 * Pure codecs for the frames livecart carries: y-protocols sync frames (step 1, step 2, update),
 * awareness (presence) updates, and the y-websocket envelope. Byte-compatible with y-protocols, so a
 * stock Yjs client understands them. No I/O; every reader throws CartError on malformed input and
 * never reads past the frame.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { CartError } from './errors.ts';

export const SYNC_STEP1 = 0;
export const SYNC_STEP2 = 1;
export const SYNC_UPDATE = 2;

export type SyncFrame =
  | { kind: 'step1'; stateVector: Uint8Array }
  | { kind: 'step2'; update: Uint8Array }
  | { kind: 'update'; update: Uint8Array };

function writeFrame(type: number, payload: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, type);
  encoding.writeVarUint8Array(enc, payload);
  return encoding.toUint8Array(enc);
}

export const writeSyncStep1 = (stateVector: Uint8Array): Uint8Array => writeFrame(SYNC_STEP1, stateVector);
export const writeSyncStep2 = (update: Uint8Array): Uint8Array => writeFrame(SYNC_STEP2, update);
export const writeSyncUpdate = (update: Uint8Array): Uint8Array => writeFrame(SYNC_UPDATE, update);

/** A step 1 payload must be a whole state vector (count, then client/clock pairs), or Yjs throws later on it. */
function checkStateVector(payload: Uint8Array): void {
  const decoder = decoding.createDecoder(payload);
  const count = decoding.readVarUint(decoder);
  for (let i = 0; i < count; i++) {
    decoding.readVarUint(decoder);
    decoding.readVarUint(decoder);
  }
  if (decoding.hasContent(decoder)) throw new CartError('E_MESSAGE_MALFORMED', 'trailing bytes after state vector');
}

/** Read one sync frame from `decoder` (which may hold more after it, as in the y-websocket envelope). */
export function readSyncFrame(decoder: decoding.Decoder): SyncFrame {
  try {
    const type = decoding.readVarUint(decoder);
    const payload = decoding.readVarUint8Array(decoder);
    switch (type) {
      case SYNC_STEP1:
        checkStateVector(payload);
        return { kind: 'step1', stateVector: payload };
      case SYNC_STEP2:
        return { kind: 'step2', update: payload };
      case SYNC_UPDATE:
        return { kind: 'update', update: payload };
      default:
        throw new CartError('E_MESSAGE_UNKNOWN', `sync frame type ${type}`);
    }
  } catch (err) {
    if (err instanceof CartError) throw err;
    throw new CartError('E_MESSAGE_MALFORMED', 'truncated sync frame or state vector');
  }
}

export function decodeSyncFrame(bytes: Uint8Array): SyncFrame {
  const decoder = decoding.createDecoder(bytes);
  const frame = readSyncFrame(decoder);
  if (decoding.hasContent(decoder)) throw new CartError('E_MESSAGE_MALFORMED', 'trailing bytes after sync frame');
  return frame;
}

/** One entry of an awareness update: a Yjs client's presence state (null: the client left). */
export interface AwarenessEntry {
  clientId: number;
  clock: number;
  state: Record<string, unknown> | null;
}

export function encodeAwarenessEntries(entries: readonly AwarenessEntry[]): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, entries.length);
  for (const e of entries) {
    encoding.writeVarUint(enc, e.clientId);
    encoding.writeVarUint(enc, e.clock);
    encoding.writeVarString(enc, JSON.stringify(e.state));
  }
  return encoding.toUint8Array(enc);
}

/** Decode an awareness update (y-protocols format), bounded: at most `maxEntries` entries. */
export function decodeAwarenessEntries(bytes: Uint8Array, maxEntries = 64): AwarenessEntry[] {
  try {
    const decoder = decoding.createDecoder(bytes);
    const count = decoding.readVarUint(decoder);
    if (count > maxEntries) throw new CartError('E_AWARENESS_INVALID', `${count} entries`);
    const entries: AwarenessEntry[] = [];
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      const state: unknown = JSON.parse(decoding.readVarString(decoder));
      if (state !== null && (typeof state !== 'object' || Array.isArray(state))) {
        throw new CartError('E_AWARENESS_INVALID', 'state must be an object or null');
      }
      if (!Number.isSafeInteger(clientId) || !Number.isSafeInteger(clock) || clientId > 0xffffffff) {
        throw new CartError('E_AWARENESS_INVALID', 'client id or clock out of range');
      }
      entries.push({ clientId, clock, state: state as Record<string, unknown> | null });
    }
    if (decoding.hasContent(decoder)) throw new CartError('E_AWARENESS_INVALID', 'trailing bytes');
    return entries;
  } catch (err) {
    if (err instanceof CartError) throw err;
    throw new CartError('E_AWARENESS_INVALID', 'malformed awareness update');
  }
}

/** y-websocket envelope message types. */
export const WS_SYNC = 0;
export const WS_AWARENESS = 1;
export const WS_AUTH = 2;
export const WS_QUERY_AWARENESS = 3;

export type WsMessage =
  | { kind: 'sync'; frame: SyncFrame }
  | { kind: 'awareness'; update: Uint8Array }
  | { kind: 'query-awareness' };

export function encodeWsSync(frame: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, WS_SYNC);
  encoding.writeUint8Array(enc, frame);
  return encoding.toUint8Array(enc);
}

export function encodeWsAwareness(update: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, WS_AWARENESS);
  encoding.writeVarUint8Array(enc, update);
  return encoding.toUint8Array(enc);
}

/** Decode one y-websocket message. Unknown kinds throw E_MESSAGE_UNKNOWN (the caller counts and drops). */
export function decodeWsMessage(bytes: Uint8Array): WsMessage {
  const decoder = decoding.createDecoder(bytes);
  let type: number;
  try {
    type = decoding.readVarUint(decoder);
  } catch {
    throw new CartError('E_MESSAGE_MALFORMED', 'empty message');
  }
  switch (type) {
    case WS_SYNC: {
      const frame = readSyncFrame(decoder);
      if (decoding.hasContent(decoder)) throw new CartError('E_MESSAGE_MALFORMED', 'trailing bytes after sync frame');
      return { kind: 'sync', frame };
    }
    case WS_AWARENESS: {
      try {
        return { kind: 'awareness', update: decoding.readVarUint8Array(decoder) };
      } catch {
        throw new CartError('E_MESSAGE_MALFORMED', 'truncated awareness message');
      }
    }
    case WS_QUERY_AWARENESS:
      return { kind: 'query-awareness' };
    default:
      throw new CartError('E_MESSAGE_UNKNOWN', `message type ${type}`);
  }
}

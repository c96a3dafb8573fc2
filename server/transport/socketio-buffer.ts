/**
 * What a Socket.IO connection has been sent but not read: packets engine.io holds for it, plus the
 * bytes its WebSocket has not flushed. Read from engine.io's internals (no public API says it).
 */
import type { Socket } from 'socket.io';

interface EnginePacket {
  data?: unknown;
}
interface EngineInternals {
  writeBuffer?: EnginePacket[];
  transport?: { socket?: { bufferedAmount?: number; terminate?: () => void } };
}

/** A cut-off socket is destroyed this long after its close, read or not (frees its buffers). */
const CUT_OFF_GRACE_MS = 1000;

function internals(socket: Socket): EngineInternals {
  return socket.conn as unknown as EngineInternals;
}

export function bufferedBytes(socket: Socket): number {
  const conn = internals(socket);
  let bytes = conn.transport?.socket?.bufferedAmount ?? 0;
  for (const packet of conn.writeBuffer ?? []) {
    const data = packet.data;
    bytes += typeof data === 'string' ? data.length : data instanceof Uint8Array ? data.byteLength : 0;
  }
  return bytes;
}

/** Disconnect `socket` dropping what it has not read, and destroy its WebSocket if it does not close. */
export function cutOff(socket: Socket): void {
  const ws = internals(socket).transport?.socket;
  socket.disconnect(true);
  setTimeout(() => ws?.terminate?.(), CUT_OFF_GRACE_MS).unref();
}

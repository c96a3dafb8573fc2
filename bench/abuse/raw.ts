/**
 * Raw wire clients for the attacks: a Socket.IO connection speaking the cart protocol by hand (the
 * same frames as test/helpers/raw-device.ts, from a chosen loopback address), and a /yjs WebSocket
 * that can stop reading.
 */
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import type { ClientToServerEvents, JoinResult, ServerToClientEvents, SyncAck } from '../../protocol/index.ts';
import type { Tally } from './net.ts';

export type RawSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Connect from `from`; connection errors and server-side closes are counted in `tally`. */
export function connectRaw(url: string, token: string, from: string, tally: Tally): Promise<RawSocket | null> {
  const socket: RawSocket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, localAddress: from } as Parameters<typeof io>[1]);
  socket.on('cart-closed', (_cartId, closed) => tally.add(`cart-closed ${closed.reason}${closed.error ? ` ${closed.error.code}` : ''}`));
  socket.on('disconnect', (reason) => {
    if (reason !== 'io client disconnect') tally.add(`disconnect: ${reason}`);
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      tally.add('connect timeout');
      socket.close();
      resolve(null);
    }, 10_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      const code = (err as { data?: { code?: string } }).data?.code;
      tally.add(`connect refused ${code ?? err.message.slice(0, 40)}`);
      socket.close();
      resolve(null);
    });
  });
}

/** Join; counts a refusal by code. True when joined. */
export async function joinRaw(socket: RawSocket, cartId: string, tally: Tally): Promise<boolean> {
  try {
    const res: JoinResult = await socket.timeout(10_000).emitWithAck('join', cartId, { device: 'attacker' });
    if (!res.ok) tally.add(`join refused ${res.error.code}`);
    return res.ok;
  } catch {
    tally.add('join timeout');
    return false;
  }
}

/** Send one sync frame and count its ack ("ack ok" or "ack <code>"), or its absence. */
export async function syncRaw(socket: RawSocket, cartId: string, frame: Uint8Array, tally: Tally, timeoutMs = 15_000): Promise<SyncAck | null> {
  try {
    const ack: SyncAck = await socket.timeout(timeoutMs).emitWithAck('sync', cartId, frame);
    tally.add(ack.ok ? 'ack ok' : `ack ${ack.error.code}`);
    return ack;
  } catch {
    tally.add(socket.connected ? 'no ack (timeout)' : 'no ack (disconnected)');
    return null;
  }
}

/** A /yjs connection from `from`; resolves once open (or null when the upgrade is refused). */
export function connectYws(wsUrl: string, from: string, tally: Tally): Promise<WebSocket | null> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { localAddress: from, perMessageDeflate: false });
    ws.on('close', (code) => tally.add(`close ${code}`));
    ws.once('unexpected-response', (_req, res) => {
      tally.add(`upgrade refused ${res.statusCode}`);
      ws.terminate();
      resolve(null);
    });
    ws.once('error', (err) => {
      tally.add(`error ${(err as NodeJS.ErrnoException).code ?? err.message.slice(0, 40)}`);
      resolve(null);
    });
    ws.once('open', () => resolve(ws));
  });
}

/** Stop reading: the kernel buffers fill and the server has to hold what it sends. */
export function stopReading(ws: WebSocket): void {
  (ws as unknown as { _socket?: { pause(): void } })._socket?.pause();
}

export function resumeReading(ws: WebSocket): void {
  (ws as unknown as { _socket?: { resume(): void } })._socket?.resume();
}

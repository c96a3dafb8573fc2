/**
 * A protocol-level device for server tests: a real socket.io-client speaking the wire protocol by
 * hand (join, sync step 1/2, updates with acks), without the client library's conveniences, so
 * tests can send exactly the bytes they mean to, including hostile ones.
 */
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import {
  type ClientToServerEvents,
  type JoinResult,
  type ServerToClientEvents,
  type SyncAck,
  decodeSyncFrame,
  writeSyncStep1,
  writeSyncStep2,
  writeSyncUpdate,
} from '../../protocol/index.ts';

export type RawSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export const REMOTE = Symbol('remote');

export function connectSocket(url: string, token: unknown): Promise<RawSocket> {
  const socket: RawSocket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

export class RawDevice {
  readonly doc = new Y.Doc();
  /** Acks of the step 2 and updates this device sent, in order. */
  readonly acks: SyncAck[] = [];
  private constructor(
    readonly socket: RawSocket,
    readonly cartId: string,
  ) {
    socket.on('sync', (cartId, frame) => {
      if (cartId !== this.cartId) return;
      const msg = decodeSyncFrame(new Uint8Array(frame));
      if (msg.kind === 'step1') {
        const update = Y.encodeStateAsUpdate(this.doc, msg.stateVector);
        socket.emit('sync', cartId, writeSyncStep2(update), (ack) => this.acks.push(ack));
      } else {
        Y.applyUpdate(this.doc, msg.update, REMOTE);
      }
    });
  }

  /** Connect, join `cartId` and complete the initial sync. */
  static async open(url: string, token: string, cartId: string): Promise<RawDevice> {
    const socket = await connectSocket(url, token);
    const device = new RawDevice(socket, cartId);
    const joined = await device.join();
    if (!joined.ok) throw new Error(`join failed: ${joined.error.code}`);
    await device.syncFromServer();
    return device;
  }

  join(): Promise<JoinResult> {
    return this.socket.emitWithAck('join', this.cartId, { device: 'raw' });
  }

  /** Send our state vector; resolves once the server's step 2 was applied. */
  syncFromServer(): Promise<SyncAck> {
    return this.socket.emitWithAck('sync', this.cartId, writeSyncStep1(Y.encodeStateVector(this.doc)));
  }

  /** Run `change` on the doc and send the resulting update; resolves with the server's ack. */
  async change(change: (doc: Y.Doc) => void): Promise<SyncAck> {
    let update: Uint8Array | null = null;
    const capture = (u: Uint8Array, origin: unknown): void => {
      if (origin !== REMOTE) update = update ? Y.mergeUpdates([update, u]) : u;
    };
    this.doc.on('update', capture);
    try {
      change(this.doc);
    } finally {
      this.doc.off('update', capture);
    }
    if (!update) throw new Error('change produced no update');
    return this.sendUpdate(update);
  }

  sendUpdate(update: Uint8Array): Promise<SyncAck> {
    return this.socket.emitWithAck('sync', this.cartId, writeSyncUpdate(update));
  }

  sendFrame(frame: Uint8Array): Promise<SyncAck> {
    return this.socket.emitWithAck('sync', this.cartId, frame);
  }

  close(): void {
    this.socket.close();
    this.doc.destroy();
  }
}

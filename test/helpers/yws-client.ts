/**
 * A stock Yjs client (y-websocket's WebsocketProvider) on a node's /yjs endpoint, in Node.
 */
import { WebSocket } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

export function stockYjsClient(port: number, cartId: string, token: string, doc = new Y.Doc()): WebsocketProvider {
  return new WebsocketProvider(`ws://127.0.0.1:${port}/yjs`, cartId, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    params: { token },
    // In-process providers of one room would otherwise sync through BroadcastChannel, not the server.
    disableBc: true,
  });
}

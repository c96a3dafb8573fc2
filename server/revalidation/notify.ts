/**
 * Workers write corrections straight to a cart's log; this channel tells the nodes hosting the cart
 * to catch up, which relays the correction to the cart's devices with its log position. A lost
 * message delays the correction until the device's next sync; it is in the log either way.
 */
import type { Redis } from 'ioredis';

export const changedChannel = (keyPrefix: string): string => `${keyPrefix}:cart-changed`;

export async function publishCartChanged(redis: Redis, keyPrefix: string, cartId: string): Promise<void> {
  await redis.publish(changedChannel(keyPrefix), cartId);
}

/** Subscribe `subscriber` (a connection in subscriber mode from now on) to changed-cart notices. */
export async function subscribeCartChanged(subscriber: Redis, keyPrefix: string, onChanged: (cartId: string) => void): Promise<void> {
  const channel = changedChannel(keyPrefix);
  subscriber.on('message', (ch: string, message: string) => {
    if (ch === channel) onChanged(message);
  });
  await subscriber.subscribe(channel);
}

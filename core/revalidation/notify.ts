/**
 * Workers write corrections straight to a cart's log; this channel tells the nodes hosting the cart
 * to catch up, which relays the correction to the cart's devices with its log position. A lost
 * message delays the correction until the device's next sync; it is in the log either way.
 */
import type { RedisClient } from '../redis/connect.ts';
import { whenResubscribed } from '../redis/resubscribe.ts';
import { Keys } from '../keys.ts';

export const changedChannel = (keyPrefix: string): string => new Keys(keyPrefix).cartChangedChannel;

/**
 * Announce that `cartId`'s log reached `version` (message: "<cartId> <version>", plus " n" when a
 * node appended it and relayed it to Socket.IO devices itself).
 */
export async function publishCartChanged(redis: RedisClient, keyPrefix: string, cartId: string, version: number, byNode = false): Promise<void> {
  await redis.publish(changedChannel(keyPrefix), `${cartId} ${version}${byNode ? ' n' : ''}`);
}

/**
 * Subscribe `subscriber` (a connection in subscriber mode from now on) to changed-cart notices.
 * Notices published while the connection was down are lost: once it is back and subscribed again,
 * `onResubscribed` runs so the caller can catch up on everything it hosts.
 */
export async function subscribeCartChanged(
  subscriber: RedisClient,
  keyPrefix: string,
  onChanged: (cartId: string, version: number, byNode: boolean) => void,
  onResubscribed: () => void = () => undefined,
): Promise<void> {
  const channel = changedChannel(keyPrefix);
  whenResubscribed(subscriber, channel, onResubscribed);
  subscriber.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    const [cartId, version, by] = message.split(' ');
    if (cartId) onChanged(cartId, Number(version) || Number.POSITIVE_INFINITY, by === 'n');
  });
  await subscriber.subscribe(channel);
}

/**
 * Pub/sub drops what is published while a subscriber is not subscribed. Run `fn` each time
 * `subscriber` is subscribed to `channel` again after such a gap, so the caller can catch up on
 * what it missed: after the connection came back, and on a cluster after the subscription moved to
 * another node (ioredis moves it without a 'close' of the client).
 */
import type { RedisClient } from './connect.ts';

export function whenResubscribed(subscriber: RedisClient, channel: string, fn: () => void): void {
  // ioredis subscribes again by itself; waiting on our own SUBSCRIBE orders `fn` after it.
  const again = (): void => void subscriber.subscribe(channel).then(fn, () => undefined);
  let lost = false;
  subscriber.on('close', () => {
    lost = true;
  });
  subscriber.on('ready', () => {
    if (!lost) return;
    lost = false;
    again();
  });
  subscriber.on('-node', again);
}

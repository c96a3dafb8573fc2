/**
 * Node liveness for presence: every node refreshes a key that expires three beats after its last
 * refresh. A node holding presence relayed from another node asks, once per beat, whether that
 * node's key still exists; when it is gone (the node was killed), its devices' presence is dropped
 * everywhere within about four beats, instead of after the 30 s awareness timeout.
 */
import type { RedisClient } from '../../core/redis/connect.ts';
import { Keys } from '../../core/keys.ts';
import type { Logger } from '../../core/log.ts';

export class NodeHeartbeat {
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    readonly nodeId: string,
    readonly intervalMs: number,
    private readonly log: Logger,
  ) {
    this.ttlMs = intervalMs * 3;
  }

  private key(nodeId: string): string {
    return new Keys(this.keyPrefix).node(nodeId);
  }

  /**
   * Beat now and every interval; `tick` runs after each beat (the caller's liveness checks). The
   * first beat is awaited so other nodes never see this node's presence before its key.
   */
  async start(tick: () => Promise<void>): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      // The liveness checks read Redis too: during an outage they fail, and are tried next beat.
      this.beat()
        .then(tick)
        .catch((err: unknown) => this.log.debug('heartbeat check failed', { err }));
    }, this.intervalMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      await this.redis.set(this.key(this.nodeId), '1', 'PX', this.ttlMs);
    } catch (err) {
      this.log.debug('heartbeat failed', { err });
    }
  }

  /**
   * Which of `nodeIds` have stopped beating. When Redis cannot answer, none: a node is only
   * declared gone on evidence.
   */
  async gone(nodeIds: Iterable<string>): Promise<string[]> {
    const ids = [...nodeIds];
    if (ids.length === 0) return [];
    try {
      // One EXISTS per node, not a pipeline: on Redis Cluster the keys are in different slots.
      const results = await Promise.all(ids.map((id) => this.redis.exists(this.key(id)).catch(() => 1)));
      return ids.filter((_, i) => results[i] === 0);
    } catch {
      return [];
    }
  }

  /** Stop beating and remove the key, so other nodes drop this node's presence at their next check. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.redis.del(this.key(this.nodeId)).catch(() => undefined);
  }
}

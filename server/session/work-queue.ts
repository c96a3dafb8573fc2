/**
 * The ordered queue of one cart session: messages are handled one at a time in arrival order even
 * though each step awaits Redis. Bounded in count and bytes, so a client cannot leave minutes of
 * work behind it; work still waiting when its session ends is dropped, never run.
 */
export type QueueOutcome = 'run' | 'dropped' | 'refused';

interface Item {
  bytes: number;
  task: () => Promise<void>;
}

export interface WorkQueueOptions {
  maxCount: number;
  maxBytes: number;
  /** Told about every message: run, dropped unrun (the session ended) or refused (queue full). */
  counted: (outcome: QueueOutcome) => void;
  /** A task threw (tasks answer their own errors; this is a bug's last resort). */
  failed: (err: unknown) => void;
  /** Checked before each task: false (its connection is gone) drops the task unrun. */
  alive: () => boolean;
}

export class WorkQueue {
  private items: Item[] = [];
  private bytes = 0;
  private running = false;
  private paused: boolean;
  private ended = false;
  private idleWaiters: Array<() => void> = [];

  /** `paused`: hold messages until resume() (a session whose cart is still loading). */
  constructor(
    private readonly opts: WorkQueueOptions,
    paused = false,
  ) {
    this.paused = paused;
  }

  /** Queue `task` (carrying `bytes` of input); false when the queue is full or ended. */
  push(bytes: number, task: () => Promise<void>): boolean {
    if (this.ended || this.items.length >= this.opts.maxCount || this.bytes + bytes > this.opts.maxBytes) {
      this.opts.counted('refused');
      return false;
    }
    this.items.push({ bytes, task });
    this.bytes += bytes;
    this.kick();
    return true;
  }

  resume(): void {
    this.paused = false;
    this.kick();
  }

  /** The session ended: drop what waits (counted) and refuse the rest. */
  end(): void {
    this.ended = true;
    for (let i = 0; i < this.items.length; i++) this.opts.counted('dropped');
    this.items = [];
    this.bytes = 0;
    if (!this.running) this.settle();
  }

  /** Resolves once no task runs and none waits (a paused queue holding work is not idle). */
  idle(): Promise<void> {
    if (!this.running && (this.items.length === 0 || this.ended)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    if (!this.running && !this.paused) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    for (let item = this.items.shift(); item; item = this.items.shift()) {
      this.bytes -= item.bytes;
      if (!this.opts.alive()) {
        this.opts.counted('dropped');
        continue;
      }
      this.opts.counted('run');
      try {
        await item.task();
      } catch (err) {
        this.opts.failed(err);
      }
      if (this.paused) break;
    }
    this.running = false;
    if (this.items.length === 0 || this.ended) this.settle();
  }

  private settle(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

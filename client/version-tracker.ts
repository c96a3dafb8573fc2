/**
 * Gap detection on the cart's version (no device misses a change for good): relayed changes carry their log
 * position `{ version, prev }`; a change whose `prev` is beyond what this device has seen means a
 * change was lost on the way (pub/sub drops messages across a Redis reconnect), so the device must
 * pull. Changes can arrive out of order across nodes, so a gap is only reported, and the caller
 * waits a moment before acting on it.
 */
interface Edge {
  prev: number;
  version: number;
}

export class VersionTracker {
  /** Every change up to this version is known to be in the local document. */
  version = 0;
  private pending: Edge[] = [];
  private pulling = false;

  /** A change between `prev` and `version` is in the local document. Returns true while a gap is open. */
  note(prev: number, version: number): boolean {
    this.pending.push({ prev, version });
    if (this.pulling) return false;
    return this.drain();
  }

  /**
   * A full pull (sync step 1) was sent: whatever was missing before it is covered by its answer.
   * Changes noted until `pulled` are kept and applied on top of the pulled version.
   */
  beginPull(): void {
    this.pending = [];
    this.pulling = true;
  }

  /** The pull was answered: the document holds every change up to `version`. Returns true on a gap. */
  pulled(version: number): boolean {
    this.pulling = false;
    // Assigned, not maxed: after a storage loss on the server the log restarts lower.
    this.version = version;
    return this.drain();
  }

  /** The pull failed: judge what was noted meanwhile against the version known before it. */
  abortPull(): boolean {
    this.pulling = false;
    return this.drain();
  }

  /** True when a change was noted whose predecessor has not been seen. */
  get gap(): boolean {
    return !this.pulling && this.pending.length > 0;
  }

  reset(): void {
    this.version = 0;
    this.pending = [];
    this.pulling = false;
  }

  private drain(): boolean {
    // In `prev` order one pass suffices: an edge that cannot apply blocks every later one.
    this.pending.sort((a, b) => a.prev - b.prev);
    const rest: Edge[] = [];
    for (const edge of this.pending) {
      if (edge.version <= this.version) continue;
      if (edge.prev <= this.version) this.version = edge.version;
      else rest.push(edge);
    }
    this.pending = rest;
    return rest.length > 0;
  }
}

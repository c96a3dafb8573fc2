/**
 * Concurrent WebSocket connections (Socket.IO and /yjs together) per client IP on this node. A
 * node's connections are its own resource, so the count is local: no Redis round trip per upgrade.
 */
export class ConnectionCaps {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerIp: number) {}

  /** Count a new connection from `ip`; false (nothing counted) when the IP is at its cap. */
  tryOpen(ip: string): boolean {
    const n = this.open.get(ip) ?? 0;
    if (n >= this.maxPerIp) return false;
    this.open.set(ip, n + 1);
    return true;
  }

  close(ip: string): void {
    const n = (this.open.get(ip) ?? 0) - 1;
    if (n <= 0) this.open.delete(ip);
    else this.open.set(ip, n);
  }

  count(ip: string): number {
    return this.open.get(ip) ?? 0;
  }
}

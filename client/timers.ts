/** Named one-shot timers of a sync engine, cleared together when a session ends. */
export class Timers<Name extends string> {
  private readonly timers = new Map<Name, ReturnType<typeof setTimeout>>();

  /** Run `fn` after `ms`; replaces a timer of the same name. */
  set(name: Name, ms: number, fn: () => void): void {
    this.clear(name);
    this.timers.set(
      name,
      setTimeout(() => {
        this.timers.delete(name);
        fn();
      }, ms),
    );
  }

  armed(name: Name): boolean {
    return this.timers.has(name);
  }

  clear(name: Name): void {
    const timer = this.timers.get(name);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(name);
  }

  clearAll(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}

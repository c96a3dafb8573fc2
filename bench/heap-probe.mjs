// Preloaded into a benchmarked livecart process (with --expose-gc): on SIGUSR2 it collects garbage
// and writes process.memoryUsage() to $BENCH_HEAP_PROBE, so a benchmark reads the heap the
// process really holds instead of an RSS that rises and falls with the collector.
import { writeFileSync } from 'node:fs';

process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  writeFileSync(process.env.BENCH_HEAP_PROBE, JSON.stringify(process.memoryUsage()));
});

/**
 * The client library stands alone: it never imports server/ or workers/, and it bundles for the
 * browser (no Node built-ins) — the Node-only file storage is a separate entry.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const clientDir = new URL('../client/', import.meta.url);

describe('client package boundaries', () => {
  it('no client file imports server/ or workers/', () => {
    for (const file of readdirSync(clientDir).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(new URL(file, clientDir), 'utf8');
      expect(source, file).not.toMatch(/from\s+['"][^'"]*\/(server|workers)\//);
    }
  });

  it('client/index.ts bundles for the browser with no Node built-ins', async () => {
    const result = await build({
      entryPoints: [new URL('index.ts', clientDir).pathname],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.includes('server/') || i.includes('workers/'))).toBe(false);
    expect(inputs.filter((i) => i.startsWith('node:'))).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/from\s*["']node:/);
    expect(code).not.toMatch(/require\(["'](fs|path|crypto|net)["']\)/);
  });
});

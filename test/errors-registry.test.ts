/** The written contract lists exactly the error and close codes that exist, with the same mapping. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLOSE, ERRORS } from '../protocol/index.ts';

const spec = readFileSync(new URL('../protocol/SPEC.md', import.meta.url), 'utf8');

function section(title: string): string {
  const start = spec.indexOf(`## ${title}`);
  const end = spec.indexOf('\n## ', start + 1);
  return spec.slice(start, end < 0 ? undefined : end);
}

describe('error registry', () => {
  it('SPEC.md §9 lists every error code with its HTTP status and retryability, and nothing else', () => {
    const rows = [...section('9. Errors').matchAll(/^\| `(E_[A-Z_]+)` \| (\d{3}) \| (yes|no) \|/gm)];
    const documented = Object.fromEntries(rows.map((m) => [m[1], { http: Number(m[2]), retryable: m[3] === 'yes' }]));
    const actual = Object.fromEntries(Object.entries(ERRORS).map(([code, e]) => [code, { http: e.http, retryable: e.retryable }]));
    expect(documented).toEqual(actual);
  });

  it('codes are unique and follow the E_ naming', () => {
    for (const code of Object.keys(ERRORS)) expect(code).toMatch(/^E_[A-Z]+(_[A-Z]+)*$/);
  });

  it('SPEC.md §10 lists every close code', () => {
    const rows = [...section('10. Close codes').matchAll(/^\| `([a-z-]+)` \| (\d{4}) \|/gm)];
    const documented = Object.fromEntries(rows.map((m) => [m[1], Number(m[2])]));
    const actual = Object.fromEntries(Object.values(CLOSE).map((c) => [c.name, c.code]));
    expect(documented).toEqual(actual);
  });
});

/**
 * Running a schema at a boundary: the first problem becomes a CartError whose detail names the
 * field (`products[3].price.amount must be ...`), so REST, the client and document validation
 * report a refused value the same way.
 */
import type { z } from 'zod';
import { CartError, type ErrorCode } from '../errors.ts';

type Issue = z.core.$ZodIssue;

/** `products[3].prices.EUR`; the empty path is `root`. */
export function pathOf(path: readonly PropertyKey[], root: string): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? root : out;
}

const quoted = (key: unknown): string => JSON.stringify(String(key).slice(0, 40));

const TYPE_NAMES: Record<string, string> = { array: 'an array', object: 'an object', record: 'an object', int: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false' };
const article = (type: string): string => TYPE_NAMES[type] ?? `a ${type}`;

/** One issue as `path what`; `root` names the value itself (`body`, `sku (in the path)`). */
export function describeIssue(issue: Issue, root: string): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `${pathOf(issue.path, root)} has unknown field ${quoted(issue.keys[0])}`;
    case 'invalid_key': {
      const key = issue.path[issue.path.length - 1];
      return `${pathOf(issue.path.slice(0, -1), root)} key ${quoted(key)} ${issue.issues[0]?.message ?? 'is invalid'}`;
    }
    case 'invalid_type':
      // zod's own wording ("Invalid input: expected object, received array") unless a schema gave one.
      return `${pathOf(issue.path, root)} ${issue.message.startsWith('Invalid input') ? `must be ${article(issue.expected)}` : issue.message}`;
    default:
      return `${pathOf(issue.path, root)} ${issue.message}`;
  }
}

/** The value as the schema's output, or a CartError(`code`) naming the first refused field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, code: ErrorCode, root = 'body'): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new CartError(code, describeIssue(result.error.issues[0]!, root).slice(0, 300));
}

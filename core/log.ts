/**
 * Structured logging with pino: one JSON object per line on stderr, levels filtered at creation.
 * Errors keep their stack and `cause` chain; tokens and authorization headers never reach a line.
 */
import { pino, stdSerializers, type DestinationStream } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/**
 * Field paths whose values are credentials. Paths are exact (pino `redact`), so each place a
 * credential can sit in a line is listed, one level deep for request-like objects.
 */
const REDACT = [
  'token',
  'adminToken',
  'authorization',
  'password',
  '*.token',
  '*.authorization',
  '*.password',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

/** `?token=…` (and `access_token`) inside URLs and messages: the /yjs endpoint takes its token there. */
const TOKEN_IN_URL = /([?&](?:access_)?token=)[^&\s"]*/gi;

/** A URL or any text with its query-string tokens replaced, for logs. */
export function redactUrl(text: string): string {
  return text.replace(TOKEN_IN_URL, '$1[Redacted]');
}

/** The password of a redis:// (or any) URL masked, so the URL can be shown in messages. */
export function maskUrlPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

function prepare(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!fields) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) out[k] = stdSerializers.errWithCause(v);
    else if (typeof v === 'string') out[k] = redactUrl(v);
    else out[k] = v;
  }
  return out;
}

function wrap(p: pino.Logger): Logger {
  return {
    debug: (msg, fields) => p.debug(prepare(fields), redactUrl(msg)),
    info: (msg, fields) => p.info(prepare(fields), redactUrl(msg)),
    warn: (msg, fields) => p.warn(prepare(fields), redactUrl(msg)),
    error: (msg, fields) => p.error(prepare(fields), redactUrl(msg)),
    child: (fields) => wrap(p.child(prepare(fields))),
  };
}

/**
 * A logger at `level` with `base` fields on every line. `destination` defaults to stderr, written
 * synchronously so the lines before a `process.exit` are not lost.
 */
export function createLogger(level: LogLevel, base: Record<string, unknown> = {}, destination?: DestinationStream): Logger {
  const p = pino(
    {
      level,
      base: prepare(base),
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[Redacted]' },
    },
    destination ?? pino.destination({ fd: 2, sync: true }),
  );
  return wrap(p);
}

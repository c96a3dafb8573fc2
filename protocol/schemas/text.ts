/**
 * What text customers and admins may store. Stored text is shown on other devices and in back
 * offices, so characters that can forge what a reader sees are refused everywhere: C0 and C1
 * control characters (NUL, ANSI escapes, carriage returns) and the bidirectional overrides and
 * isolates (U+202A-202E, U+2066-2069) that reorder a line. Notes may span lines (LF only).
 * Markup such as `<script>` is ordinary text: displays must escape it (protocol/SPEC.md §3).
 */
import * as z from 'zod';

/** Text without the characters no stored text may contain. */
export const PLAIN_TEXT = /^[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$/;
/** The same, with line feeds allowed (multi-line notes). */
export const MULTILINE_TEXT = /^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$/;

const NO_CONTROLS = 'must not contain control characters or bidirectional overrides';

/** A single-line string of `min`..`max` UTF-16 units without forbidden characters. */
export function plainText(max: number, min = 0): z.ZodString {
  const size = min > 0 ? `a string of ${min}-${max} characters` : `a string of at most ${max} characters`;
  return z
    .string({ error: `must be ${size}` })
    .min(min, { error: `must be ${size}` })
    .max(max, { error: `must be ${size}` })
    .regex(PLAIN_TEXT, { error: NO_CONTROLS });
}

/** Like plainText, with line feeds allowed. */
export function multilineText(max: number): z.ZodString {
  const size = `must be a string of at most ${max} characters`;
  return z
    .string({ error: size })
    .max(max, { error: size })
    .regex(MULTILINE_TEXT, { error: NO_CONTROLS });
}

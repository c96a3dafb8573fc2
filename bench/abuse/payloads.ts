/**
 * What the attackers send: Yjs updates built with the protocol's own cart operations on a fresh
 * document (so they pass validation the way a real client's would), sized to the limits.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { type Actor, type AddLineInput, DEFAULT_LIMITS, addLine, lineIdOf, randomId, roots } from '../../protocol/index.ts';

const WIDE = '€'; // one UTF-16 unit, three UTF-8 bytes: the most bytes a character limit allows

/**
 * Line `i` of a heavy cart: a note of wide characters and 8 options, at their character limits
 * (option values stay ASCII: they are URI-encoded into the line id, which has a length limit).
 */
export function heavyLine(i: number): AddLineInput {
  const options: Record<string, string> = {};
  for (let k = 1; k <= DEFAULT_LIMITS.maxOptions; k++) {
    const head = `${i}-${k}-`;
    options[`o${k}`] = head + 'x'.repeat(DEFAULT_LIMITS.maxOptionLength - head.length);
  }
  return { sku: 'BENCH-J', quantity: 1, options, note: WIDE.repeat(DEFAULT_LIMITS.maxNoteLength) };
}

function lineBytes(actor: Actor): number {
  const doc = new Y.Doc();
  addLine(doc, heavyLine(0), actor);
  const n = Y.encodeStateAsUpdate(doc).length;
  doc.destroy();
  return n;
}

/** The updates that build a heavy cart of about `targetBytes`, each update under `maxUpdateBytes`. */
export function heavyCartUpdates(actor: Actor, targetBytes: number, maxUpdateBytes = DEFAULT_LIMITS.maxUpdateBytes): { updates: Uint8Array[]; lines: number } {
  const per = lineBytes(actor);
  const lines = Math.min(DEFAULT_LIMITS.maxLines, Math.max(1, Math.round(targetBytes / per)));
  const perUpdate = Math.max(1, Math.floor((maxUpdateBytes - 1024) / per));
  const doc = new Y.Doc();
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  for (let start = 0; start < lines; start += perUpdate) {
    doc.transact(() => {
      for (let i = start; i < Math.min(lines, start + perUpdate); i++) addLine(doc, heavyLine(i), actor);
    });
  }
  doc.destroy();
  return { updates, lines };
}

/**
 * Overwrites of the heavy lines by fresh documents: a fresh document writes each key once and
 * nothing in the content names its client id (no add records, whose keys do), so the update names
 * it exactly once, in its header; `withClient` makes new content (that overwrites the same lines)
 * by rewriting that one number.
 */
export interface OverwriteTemplate {
  update: Uint8Array;
  clientStart: number;
  clientEnd: number;
}

export function overwriteTemplate(actor: Actor, lines: number): OverwriteTemplate {
  const doc = new Y.Doc();
  const { lines: lineMap, qset } = roots(doc);
  doc.transact(() => {
    for (let i = 0; i < lines; i++) {
      const l = heavyLine(i);
      const lineId = lineIdOf(l.sku, l.options);
      lineMap.set(lineId, { sku: l.sku, options: l.options ?? {}, note: l.note ?? '', addedBy: { ...actor }, addedAt: Date.now() });
      qset.set(lineId, { q: 1, id: randomId() });
    }
  });
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  const dec = decoding.createDecoder(update);
  if (decoding.readVarUint(dec) !== 1) throw new Error('expected one client in the template');
  decoding.readVarUint(dec); // struct count
  const clientStart = dec.pos;
  decoding.readVarUint(dec);
  return { update, clientStart, clientEnd: dec.pos };
}

export function withClient(t: OverwriteTemplate, client: number): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, client);
  const id = encoding.toUint8Array(e);
  const out = new Uint8Array(t.update.length - (t.clientEnd - t.clientStart) + id.length);
  out.set(t.update.subarray(0, t.clientStart), 0);
  out.set(id, t.clientStart);
  out.set(t.update.subarray(t.clientEnd), t.clientStart + id.length);
  return out;
}

/**
 * A frame payload of about `targetBytes` of overwrites, at most maxLines distinct lines: whole
 * passes over the lines by successive fresh clients (concurrent overwrites), merged into one update.
 */
export class OverwriteFrames {
  private readonly full: OverwriteTemplate;
  private readonly rest: OverwriteTemplate | null;

  constructor(actor: Actor, targetBytes: number) {
    const one = overwriteTemplate(actor, 1).update.length;
    const total = Math.max(1, Math.floor(targetBytes / one));
    const max = DEFAULT_LIMITS.maxLines;
    if (total > 2 * max) throw new Error('frame target too large');
    this.full = overwriteTemplate(actor, Math.min(total, max));
    this.rest = total > max ? overwriteTemplate(actor, total - max) : null;
  }

  next(): Uint8Array {
    const client = (): number => 1 + Math.floor(Math.random() * 0x7fffffff);
    const a = withClient(this.full, client());
    return this.rest ? Y.mergeUpdates([a, withClient(this.rest, client())]) : a;
  }
}

/** `n` line records whose quantity is set to 0: in the document, not in the view. */
export function invisibleLinesUpdate(actor: Actor, n: number, salt: string): Uint8Array {
  const doc = new Y.Doc();
  doc.transact(() => {
    for (let i = 0; i < n; i++) {
      const lineId = addLine(doc, { sku: 'BENCH-I', quantity: 1, options: { k: `${salt}-${i}` } }, actor);
      roots(doc).qset.set(lineId, { q: 0, id: randomId() });
    }
  });
  const u = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return u;
}

/** One line with a hostile note (a fresh document's update). */
export function hostileNoteUpdate(actor: Actor, note: string, i: number): Uint8Array {
  const doc = new Y.Doc();
  addLine(doc, { sku: 'BENCH-H', quantity: 1, options: { v: `socket-${i}` }, note }, actor);
  const u = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return u;
}

/** Stored-text attacks: control characters, terminal escapes, bidi overrides, markup. */
export const HOSTILE_TEXTS: ReadonlyArray<[label: string, text: string]> = [
  ['NUL', 'before\u0000after'],
  ['ANSI escape', '\u001b[31mred\u001b[0m \u001b]0;title\u0007'],
  ['RTL override', 'invoice\u202Egpj.exe'],
  ['script tag', '<script>alert(document.cookie)</script>'],
  ['C1 control', 'x\u0085y\u009bz'],
  ['zero-width', 'a\u200Bb\u2060c\uFEFF'],
  ['lone surrogate', 'a\uD800b'],
  ['newlines', 'line1\r\nline2\u2028line3'],
];

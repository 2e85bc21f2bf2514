// Timestamps arrive as ISO-8601 strings (no zone means UTC) or Unix epoch
// seconds. They are stored in `TIMESTAMP` (no zone) columns as UTC, so this
// module turns either form into PostgreSQL's own text form with microseconds:
// `YYYY-MM-DD HH:MM:SS.ffffff`. That text sorts like the instant it names,
// which the status fold relies on.

const MIN_EPOCH_SECONDS = -62_135_596_800; // 0001-01-01T00:00:00Z
const MAX_EPOCH_SECONDS = 253_402_300_799; // 9999-12-31T23:59:59Z

/** Returns the UTC timestamp text, or undefined when the value is not a timestamp we accept. */
export function toUtcTimestamp(value: unknown): string | undefined {
  if (typeof value === 'number') return fromEpochSeconds(value);
  if (typeof value === 'string') return fromUsualIso(value) ?? fromIso(value.trim());
  return undefined;
}

function fromEpochSeconds(seconds: number): string | undefined {
  if (!Number.isFinite(seconds) || seconds < MIN_EPOCH_SECONDS || seconds > MAX_EPOCH_SECONDS) return undefined;
  const whole = Math.floor(seconds);
  let micros = Math.round((seconds - whole) * 1e6);
  let secs = whole;
  if (micros >= 1e6) { secs += 1; micros -= 1e6; }
  return format(secs * 1000, micros);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

// The accepted ISO-8601 forms: `YYYY-MM-DD`, optionally `T`, `t` or a space
// and `HH:MM`, optionally `:SS`, optionally `.` or `,` and fraction digits;
// then optionally whitespace and a zone: `Z`, `z`, `±HH`, `±HHMM` or `±HH:MM`.
// Read with charCodeAt rather than a regular expression: this runs once per
// line, and the match array and its substrings were a tenth of ingest's CPU.

const ZERO = 48;
const WHITESPACE = /\s/;

/** The number `count` ASCII digits spell at `at`, or -1. */
function digitsAt(text: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (!(d >= 0 && d <= 9)) return -1; // NaN past the end fails too
    n = n * 10 + d;
  }
  return n;
}

function isDigitAt(text: string, at: number): boolean {
  return digitsAt(text, at, 1) !== -1;
}

/** `HH:MM` after a `T`, `t` or space at `at`; a space may instead start the zone. */
function hasClockAt(text: string, at: number): boolean {
  const c = text[at];
  if (c === 'T' || c === 't') return true;
  return c === ' ' && digitsAt(text, at + 1, 2) !== -1 && text[at + 3] === ':' && digitsAt(text, at + 4, 2) !== -1;
}

const FRACTION_PADDING = ['000000', '00000', '0000', '000', '00', '0', ''];

/**
 * The forms nearly every writer uses (`toISOString()`, Python's
 * `isoformat()`): `YYYY-MM-DDTHH:MM:SS`, a fraction of 1-6 digits or none,
 * then `Z`, `+00:00` or nothing. Already UTC, so checked in place and
 * rewritten in three pieces: the general path below cost 1.8 µs a line, a
 * sixth of ingest's CPU on state events. Anything else is left to it.
 */
function fromUsualIso(text: string): string | undefined {
  if (text.length < 19 || text[4] !== '-' || text[7] !== '-' || (text[10] !== 'T' && text[10] !== ' ') || text[13] !== ':' || text[16] !== ':') return undefined;
  const year = digitsAt(text, 0, 4), month = digitsAt(text, 5, 2), day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2), minute = digitsAt(text, 14, 2), second = digitsAt(text, 17, 2);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour === -1 || hour > 23 || minute === -1 || minute > 59 || second === -1 || second > 59) return undefined;
  let end = 19;
  if (text[19] === '.') {
    while (isDigitAt(text, end + 1)) end++;
    if (end === 19 || end > 25) return undefined;
    end++;
  }
  const zone = text.length - end;
  if (zone !== 0 && !(zone === 1 && text[end] === 'Z') && !(zone === 6 && text.endsWith('+00:00'))) return undefined;
  // A concatenation is a tree of its pieces until the window's comparison flattens it in place; a join cost 3 times as much.
  const clock = text.slice(11, end);
  return end === 19 ? `${text.slice(0, 10)} ${clock}.000000` : `${text.slice(0, 10)} ${clock}${FRACTION_PADDING[end - 20]}`;
}

function fromIso(text: string): string | undefined {
  const year = digitsAt(text, 0, 4), month = digitsAt(text, 5, 2), day = digitsAt(text, 8, 2);
  if (year === -1 || text[4] !== '-' || month === -1 || text[7] !== '-' || day === -1) return undefined;
  let hour = 0, minute = 0, second = 0, fracStart = 0, fracEnd = 0;
  let i = 10;
  if (hasClockAt(text, i)) {
    hour = digitsAt(text, i + 1, 2);
    minute = digitsAt(text, i + 4, 2);
    if (hour === -1 || text[i + 3] !== ':' || minute === -1) return undefined;
    i += 6;
    if (text[i] === ':') {
      second = digitsAt(text, i + 1, 2);
      if (second === -1) return undefined;
      i += 3;
      if (text[i] === '.' || text[i] === ',') {
        fracStart = fracEnd = i + 1;
        while (isDigitAt(text, fracEnd)) fracEnd++;
        if (fracEnd === fracStart) return undefined;
        i = fracEnd;
      }
    }
  }
  while (i < text.length && WHITESPACE.test(text[i]!)) i++;
  const offset = zoneOffsetMs(text.slice(i));
  if (offset === undefined) return undefined;
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  // Round to microseconds as PostgreSQL does.
  const fracDigits = fracEnd - fracStart;
  const micros = fracDigits === 0 ? 0
    : fracDigits <= 6 ? digitsAt(text, fracStart, fracDigits) * 10 ** (6 - fracDigits)
    : Math.round(Number(`0.${text.slice(fracStart, fracEnd)}`) * 1e6);
  // Already UTC and no carry: the text is the answer (the common case, kept cheap).
  if (offset === 0 && micros < 1e6) return `${text.slice(0, 10)} ${two(hour)}:${two(minute)}:${two(second)}.${String(micros).padStart(6, '0')}`;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const ms = date.getTime() - offset + (micros >= 1e6 ? 1000 : 0);
  if (ms / 1000 < MIN_EPOCH_SECONDS || ms / 1000 > MAX_EPOCH_SECONDS) return undefined;
  return format(ms, micros % 1e6);
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** The zone's offset from UTC, or undefined when `zone` is not one (nothing at all is UTC). */
function zoneOffsetMs(zone: string): number | undefined {
  if (zone === '' || zone === 'Z' || zone === 'z') return 0;
  const sign = zone[0] === '-' ? -1 : zone[0] === '+' ? 1 : 0;
  const hours = digitsAt(zone, 1, 2);
  const colon = zone[3] === ':' ? 1 : 0;
  const minutes = zone.length === 3 ? 0 : digitsAt(zone, 3 + colon, 2);
  if (sign === 0 || hours === -1 || minutes === -1 || (zone.length !== 3 && zone.length !== 5 + colon)) return undefined;
  if (hours > 23 || minutes > 59) return undefined;
  return sign * (hours * 60 + minutes) * 60_000;
}

function format(ms: number, micros: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-23T10:00:00.000Z, or +010000-... never (range checked)
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(micros).padStart(6, '0')}`;
}

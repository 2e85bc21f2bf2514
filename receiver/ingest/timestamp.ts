// Timestamps arrive as ISO-8601 strings (no zone means UTC) or Unix epoch
// seconds. They are stored in `TIMESTAMP` (no zone) columns as UTC, so this
// module turns either form into PostgreSQL's own text form with microseconds:
// `YYYY-MM-DD HH:MM:SS.ffffff`. That text sorts like the instant it names,
// which the status fold relies on.

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(?:\s*([Zz]|[+-]\d{2}(?::?\d{2})?))?$/;

const MIN_EPOCH_SECONDS = -62_135_596_800; // 0001-01-01T00:00:00Z
const MAX_EPOCH_SECONDS = 253_402_300_799; // 9999-12-31T23:59:59Z

/** Returns the UTC timestamp text, or undefined when the value is not a timestamp we accept. */
export function toUtcTimestamp(value: unknown): string | undefined {
  if (typeof value === 'number') return fromEpochSeconds(value);
  if (typeof value === 'string') return fromIso(value.trim());
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

function fromIso(text: string): string | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone] = m;
  const year = Number(y), month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(s);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  const offset = zoneOffsetMs(zone);
  if (offset === undefined) return undefined;
  // Round to microseconds as PostgreSQL does.
  const micros = frac.length <= 6 ? Number(frac.padEnd(6, '0')) : Math.round(Number(`0.${frac}`) * 1e6);
  // Already UTC and no carry: the text is the answer (the common case, kept cheap).
  if (offset === 0 && micros < 1e6) return `${y}-${mo}-${d} ${h}:${mi}:${s}.${String(micros).padStart(6, '0')}`;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const ms = date.getTime() - offset + (micros >= 1e6 ? 1000 : 0);
  if (ms / 1000 < MIN_EPOCH_SECONDS || ms / 1000 > MAX_EPOCH_SECONDS) return undefined;
  return format(ms, micros % 1e6);
}

function zoneOffsetMs(zone: string | undefined): number | undefined {
  if (!zone || zone === 'Z' || zone === 'z') return 0;
  const sign = zone[0] === '-' ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  if (hours > 23 || minutes > 59) return undefined;
  return sign * (hours * 60 + minutes) * 60_000;
}

function format(ms: number, micros: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-23T10:00:00.000Z, or +010000-... never (range checked)
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(micros).padStart(6, '0')}`;
}

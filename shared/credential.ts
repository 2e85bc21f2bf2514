// A credential in service: its current value and, during a rotation, the
// previous one, each from a variable or from a file. Files are read again on a
// timer (and at once when a caller asks, e.g. after a 401), because a
// Kubernetes Secret volume changes in place: the kubelet swaps the volume's
// `..data` link and the same path holds the new value. Every value is checked
// as the variables' are (shared/env.ts: at least 16 characters, not a
// placeholder): a file that turns weak, empty or unreadable is reported and
// never served, and the value read before stays in service.

import { readFile } from 'node:fs/promises';
import { ConfigError, SECRET_EXPECTED, strongSecret, type CredentialSetting, type CredentialSource } from './env.js';

export interface CredentialEvents {
  /** A value changed after a re-read (never the value itself). */
  onCredentialChanged(name: string, variable: string): void;
  /** A value cannot be used: the file is unreadable, or the value weak. Reported once per change. */
  onCredentialInvalid(name: string, variable: string, reason: string): void;
}

export interface LiveCredential {
  readonly name: string;
  /** The current value, if there is a valid one. */
  current(): string | undefined;
  /** The previous value, if there is a valid one. */
  previous(): string | undefined;
  /** Reads the files again; resolves true when a value changed. */
  reload(): Promise<boolean>;
}

type Read = { ok: true; value: string | undefined } | { ok: false; reason: string; missing?: boolean };

/**
 * `optional` (a previous value): a missing or empty file means there is
 * none, since a rotation ends by removing it from the Secret.
 */
async function read(source: CredentialSource, optional: boolean): Promise<Read> {
  let raw: string;
  if ('value' in source) {
    raw = source.value;
  } else {
    try {
      // A trailing newline (echo secret > file) is not part of the secret.
      raw = (await readFile(source.file, 'utf8')).trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (optional && code === 'ENOENT') return { ok: true, value: undefined };
      return { ok: false, reason: `${source.file}: ${code ?? (err as Error).message}`, missing: code === 'ENOENT' };
    }
    if (optional && raw === '') return { ok: true, value: undefined };
  }
  return strongSecret(raw) === undefined ? { ok: false, reason: `must be ${SECRET_EXPECTED}` } : { ok: true, value: raw };
}

/**
 * Opens the credential. `strict`: a value that is weak, or a file that
 * exists and cannot be read, is a ConfigError naming its variable now (the
 * receiver: exit 2). A file that does not exist is reported and waited for
 * (a key not in the mounted Secret: yet), and so, without `strict`, is
 * everything else (the shipper: idle, see shipper/shipper.ts).
 */
export async function openCredential(setting: CredentialSetting, events: CredentialEvents, strict: boolean): Promise<LiveCredential> {
  const sources = { current: setting.current, previous: setting.previous };
  const values: { current?: string; previous?: string } = {};
  /** The last problem reported per source, so a lasting one is reported once. */
  const reported = new Map<string, string>();

  async function look(which: 'current' | 'previous', first: boolean): Promise<boolean> {
    const source = sources[which];
    if (!source) return false;
    const got = await read(source, which === 'previous');
    if (!got.ok) {
      if (first && strict && !got.missing) throw new ConfigError(source.variable, 'value' in source ? SECRET_EXPECTED : `a readable file holding a secret of ${SECRET_EXPECTED}`, 'value' in source ? '<redacted>' : got.reason);
      if (reported.get(source.variable) !== got.reason) {
        reported.set(source.variable, got.reason);
        events.onCredentialInvalid(setting.name, source.variable, got.reason);
      }
      return false;
    }
    reported.delete(source.variable);
    if (values[which] === got.value) return false;
    values[which] = got.value;
    if (!first) events.onCredentialChanged(setting.name, source.variable);
    return !first;
  }

  await look('current', true);
  await look('previous', true);
  let reloading: Promise<boolean> | undefined;
  return {
    name: setting.name,
    current: () => values.current,
    previous: () => values.previous,
    reload() {
      // Concurrent callers (several pipelines hit by the same 401) share one read.
      reloading ??= (async () => {
        try {
          const [a, b] = await Promise.all([look('current', false), look('previous', false)]);
          return a || b;
        } finally {
          reloading = undefined;
        }
      })();
      return reloading;
    },
  };
}

/** Whether any value comes from a file, i.e. whether reloading can change anything. */
export function fromFiles(settings: CredentialSetting[]): boolean {
  return settings.some((s) => (s.current && 'file' in s.current) || (s.previous && 'file' in s.previous));
}

/** Reloads every credential each `intervalMs`; returns the function that stops it. */
export function watchCredentials(credentials: LiveCredential[], intervalMs: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void Promise.all(credentials.map((c) => c.reload())).finally(schedule), intervalMs);
    timer.unref();
  };
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

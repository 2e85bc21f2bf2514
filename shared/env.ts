// Configuration = defaults + environment + validation. Each setting names its
// variable, so every error message and the --help text come from one table.

export class ConfigError extends Error {
  constructor(readonly variable: string, readonly expected: string, readonly found: string | undefined) {
    super(
      found === undefined
        ? `${variable} is required (${expected})`
        : `${variable} must be ${expected}, got ${JSON.stringify(found)}`,
    );
    this.name = 'ConfigError';
  }
}

/** A failure to listen on the port that setting `variable` names, as the configuration error it is; undefined for any other error. */
export function portError(err: NodeJS.ErrnoException, variable: string, port: number): ConfigError | undefined {
  return err.code === 'EADDRINUSE' || err.code === 'EACCES' ? new ConfigError(variable, 'a port this process can listen on', `${port} (${err.code})`) : undefined;
}

export interface Setting<T> {
  readonly env: string;
  readonly help: string;
  /** What the value must look like, for error messages and --help. */
  readonly expected: string;
  readonly parse: (raw: string) => T | undefined;
  /** Used when the variable is unset or empty; `undefined` means required. */
  readonly fallback?: { value: T; shown: string };
  readonly secret?: boolean;
  /** Reads several variables at once (a credential and its file and previous value); replaces parse. */
  readonly load?: (env: NodeJS.ProcessEnv) => T;
  /** Every variable it reads, when more than `env`. */
  readonly variables?: readonly string[];
}

/** The variables a setting reads. */
export function variablesOf(s: Setting<unknown>): readonly string[] {
  return s.variables ?? [s.env];
}

export type Spec = Record<string, Setting<unknown>>;
export type ConfigOf<S extends Spec> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

export function loadConfig<S extends Spec>(spec: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(spec)) {
    if (setting.load) {
      out[key] = setting.load(env);
      continue;
    }
    const raw = env[setting.env];
    if (raw === undefined || raw === '') {
      if (!setting.fallback) throw new ConfigError(setting.env, setting.expected, undefined);
      out[key] = setting.fallback.value;
      continue;
    }
    const value = setting.parse(raw);
    if (value === undefined) throw new ConfigError(setting.env, setting.expected, setting.secret ? '<redacted>' : raw);
    out[key] = value;
  }
  return out as ConfigOf<S>;
}

export function helpText(usage: string, spec: Spec): string {
  const settings = Object.values(spec);
  const width = Math.max(...settings.map((s) => s.env.length));
  const rows = settings.map((s) => {
    const dflt = s.fallback ? `default: ${s.fallback.shown}` : 'required';
    return `  ${s.env.padEnd(width)}  ${s.help} (${dflt})`;
  });
  return `${usage}\n\nEnvironment:\n${rows.join('\n')}\n`;
}

// --- setting builders -------------------------------------------------------

type Opts<T> = { help: string; default?: T; shown?: string; secret?: boolean };

function setting<T>(env: string, expected: string, parse: (raw: string) => T | undefined, o: Opts<T>): Setting<T> {
  return {
    env,
    help: o.help,
    expected,
    parse,
    secret: o.secret,
    fallback: o.default === undefined ? undefined : { value: o.default, shown: o.shown ?? String(o.default) },
  };
}

export function str(env: string, o: Opts<string>): Setting<string> {
  return setting(env, 'a non-empty string', (raw) => raw, o);
}

/** A string that may stay unset: the program decides what "unset" means. */
export function optionalStr(env: string, o: Omit<Opts<string>, 'default'> & { shown: string }): Setting<string | undefined> {
  return {
    env,
    help: o.help,
    expected: 'a non-empty string',
    parse: (raw) => raw,
    secret: o.secret,
    fallback: { value: undefined, shown: o.shown },
  };
}

/** Shortest token or secret accepted: a guessable one would let anyone write, or read everything. */
export const MIN_SECRET_LENGTH = 16;

/**
 * The placeholder values the repository's own manifests carry (k8s/overlays):
 * a copied manifest whose Secrets were never replaced must not start.
 */
export function isPlaceholderSecret(raw: string): boolean {
  return /^change[-_ ]?me/i.test(raw.trim());
}

export const SECRET_EXPECTED = `at least ${MIN_SECRET_LENGTH} characters and not a placeholder (make one with: openssl rand -base64 32)`;
export const strongSecret = (raw: string) => (raw.length >= MIN_SECRET_LENGTH && !isPlaceholderSecret(raw) ? raw : undefined);

/** Where one value of a credential comes from: its variable, or the file its `_FILE` variable names. */
export type CredentialSource = { variable: string; value: string } | { variable: string; file: string };

/**
 * A credential ferry checks, as configured: its current value and, while a
 * rotation goes round, the previous one, each from `NAME` (`NAME_PREVIOUS`)
 * or from a file, `NAME_FILE` (`NAME_PREVIOUS_FILE`), which is read again
 * when it changes (shared/credential.ts). The values are checked there, the
 * files' and the variables' alike.
 */
export interface CredentialSetting {
  name: string;
  current?: CredentialSource;
  previous?: CredentialSource;
}

function credentialSource(env: NodeJS.ProcessEnv, variable: string): CredentialSource | undefined {
  const value = env[variable];
  const file = env[`${variable}_FILE`];
  if (value && file) throw new ConfigError(`${variable}_FILE`, `unset while ${variable} is set (one source per value)`, file);
  if (value) return { variable, value };
  return file ? { variable: `${variable}_FILE`, file } : undefined;
}

/** `NAME` or `NAME_FILE`, and with `previous`, `NAME_PREVIOUS` or `NAME_PREVIOUS_FILE`. */
export function credential(env: string, o: { help: string; previous: boolean; shown: string }): Setting<CredentialSetting> {
  const variants = o.previous ? `; or ${env}_FILE; previous value: ${env}_PREVIOUS or ${env}_PREVIOUS_FILE` : `; or ${env}_FILE`;
  return {
    env,
    help: `${o.help}${variants}`,
    expected: SECRET_EXPECTED,
    parse: () => undefined,
    secret: true,
    fallback: { value: { name: env }, shown: o.shown },
    variables: o.previous ? [env, `${env}_FILE`, `${env}_PREVIOUS`, `${env}_PREVIOUS_FILE`] : [env, `${env}_FILE`],
    load: (vars) => {
      const current = credentialSource(vars, env);
      const previous = o.previous ? credentialSource(vars, `${env}_PREVIOUS`) : undefined;
      if (previous && !current) throw new ConfigError(env, `set (or ${env}_FILE) when ${env}_PREVIOUS is: the previous value is kept beside a current one`, undefined);
      return { name: env, current, previous };
    },
  };
}

/**
 * A credential another program reads from the environment (PGPASSWORD,
 * AWS_SECRET_ACCESS_KEY): its strength is that program's business, a
 * placeholder is ours to catch. The value says whether it is set.
 */
export function notPlaceholder(env: string, help: string): Setting<boolean> {
  return {
    env,
    help,
    expected: 'a real value, not a placeholder from the repository\'s manifests',
    parse: (raw) => (isPlaceholderSecret(raw) ? undefined : true),
    secret: true,
    fallback: { value: false, shown: 'unset' },
  };
}

export function int(env: string, min: number, max: number, o: Opts<number>): Setting<number> {
  return setting(env, `an integer from ${min} to ${max}`, (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) return undefined;
    const n = Number(raw.trim());
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  }, o);
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** Byte sizes accept a unit: `512KiB`, `4MiB`, `1g`. */
export function bytes(env: string, min: number, max: number, o: Opts<number>): Setting<number> {
  return setting(env, `a size from ${min} to ${max} bytes (units KiB, MiB, GiB allowed)`, (raw) => {
    const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(raw);
    const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) return undefined;
    const n = Number(m[1]) * unit;
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  }, o);
}

export function bool(env: string, o: Opts<boolean>): Setting<boolean> {
  return setting(env, 'true or false', (raw) => {
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    return undefined;
  }, o);
}

function httpUrl(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' || u.protocol === 'https:' ? raw.replace(/\/+$/, '') : undefined;
  } catch {
    return undefined;
  }
}

export function url(env: string, o: Opts<string>): Setting<string> {
  return setting(env, 'an http:// or https:// URL', httpUrl, o);
}

export function optionalUrl(env: string, o: Omit<Opts<string>, 'default'> & { shown: string }): Setting<string | undefined> {
  return { ...optionalStr(env, o), expected: 'an http:// or https:// URL', parse: httpUrl };
}

export function oneOf<T extends string>(env: string, values: readonly T[], o: Opts<T>): Setting<T> {
  return setting(env, `one of ${values.join(', ')}`, (raw) => (values as readonly string[]).includes(raw) ? raw as T : undefined, o);
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function logLevel(): Setting<LogLevel> {
  return oneOf('LOG_LEVEL', LOG_LEVELS, { help: 'log level of the JSON logs on stdout', default: 'info' });
}

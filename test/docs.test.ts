// The README's tables are the user's reference: they must say what the code does.

import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { ROOT_FOLDER } from '../dev/embedded-postgres.js';
import { RECEIVER_SPEC } from '../receiver/config.js';
import { REJECT_REASONS, REQUEST_ERRORS } from '../receiver/errors.js';
import { tableAfter } from './helpers/markdown.js';
import { batchSettings, SHIPPER_SPEC } from '../shipper/config.js';
import { report } from '../shipper/from-vector/report.js';
import { translate } from '../shipper/from-vector/translate.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('names the folder where, as root, the embedded PostgreSQL is placed', () => {
    expect(README.slice(README.indexOf('## Troubleshooting'))).toContain(`\`${ROOT_FOLDER}/`);
  });

  it('lists every request error with its status and meaning, and nothing else', () => {
    const rows = tableAfter(README, 'Whole-request problems get');
    expect(rows).toEqual(Object.entries(REQUEST_ERRORS).map(([code, e]) => [code, String(e.status), e.meaning]));
  });

  it('lists every reject reason with its meaning, and nothing else', () => {
    const rows = tableAfter(README, 'under `rejected`. The reasons:');
    expect(rows).toEqual(Object.entries(REJECT_REASONS).map(([reason, meaning]) => [reason, meaning]));
  });

  it('documents every receiver variable with its real default', () => {
    const rows = tableAfter(README, '`ferry-receiver --help` prints this list');
    const documented = Object.fromEntries(rows.map(([name, dflt]) => [name, dflt]));
    for (const s of Object.values(RECEIVER_SPEC)) {
      expect(documented, s.env).toHaveProperty(s.env);
      expect(documented[s.env], s.env).toBe(s.fallback ? s.fallback.shown : 'required');
    }
    expect(Object.keys(documented).sort()).toEqual(Object.values(RECEIVER_SPEC).map((s) => s.env).sort());
  });

  it('documents every shipper variable with its real default', () => {
    const rows = tableAfter(README, '`ferry-shipper --help` prints this list');
    const documented = Object.fromEntries(rows.map(([name, dflt]) => [name, dflt]));
    for (const s of Object.values(SHIPPER_SPEC)) {
      if (s.env === 'HOSTNAME') continue; // its default is the machine's name
      expect(documented[s.env], s.env).toBe(s.fallback ? s.fallback.shown : 'required');
    }
    const commands = batchSettings({ name: 'commands', file: 'command-log.jsonl', stream: 'commands' });
    const llm = batchSettings({ name: 'llm', file: 'llm-history.jsonl', stream: 'llm' });
    expect(documented['<NAME>_BATCH_MAX_EVENTS']).toBe(`${commands.maxEvents.fallback!.shown}\` (\`llm\`: \`${llm.maxEvents.fallback!.shown}\`)`);
    expect(documented['<NAME>_BATCH_MAX_BYTES']).toBe(commands.maxBytes.fallback!.shown);
    expect(llm.maxBytes.fallback!.shown).toBe(commands.maxBytes.fallback!.shown);
    const envNames = [...Object.values(SHIPPER_SPEC).map((s) => s.env), '<NAME>_BATCH_MAX_EVENTS', '<NAME>_BATCH_MAX_BYTES'];
    expect(Object.keys(documented).sort()).toEqual(envNames.sort());
  });

  it('shows what `ferry-shipper from-vector docs/vector.toml` prints, as it prints it', () => {
    const marker = 'For [`docs/vector.toml`](docs/vector.toml)';
    const after = README.slice(README.indexOf(marker));
    const block = /```yaml\n([\s\S]*?)```/.exec(after)?.[1];
    const config = parseToml(readFileSync(new URL('../docs/vector.toml', import.meta.url), 'utf8'));
    expect(block).toBe(report('docs/vector.toml', translate(config)));
  });
});

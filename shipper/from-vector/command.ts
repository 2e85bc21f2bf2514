// `ferry-shipper from-vector <vector.toml>`: the Vector sidecar's config as
// ferry-shipper's pod spec. Exit code 0 when every setting translated (or is
// not needed with ferry), 1 when some did not, 2 when the file cannot be read
// or is not TOML.

import { readFile } from 'node:fs/promises';
import { parse, TomlError } from 'smol-toml';
import { report } from './report.js';
import { translate } from './translate.js';

export async function fromVector(file: string | undefined, stdout: (s: string) => void, stderr: (s: string) => void): Promise<0 | 1 | 2> {
  if (file === undefined) {
    stderr('ferry-shipper from-vector: give the Vector config file: ferry-shipper from-vector <vector.toml>\n');
    return 2;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    stderr(`ferry-shipper from-vector: cannot read ${file}: ${(err as Error).message.split(',')[0]}\n`);
    return 2;
  }
  let config: Record<string, unknown>;
  try {
    config = parse(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const why = err.message.replace(/^Invalid TOML document: /, '').split('\n')[0];
    stderr(`ferry-shipper from-vector: ${file} is not valid TOML: line ${err.line}, column ${err.column}: ${why}\n${err.codeblock}\n`);
    return 2;
  }
  const t = translate(config);
  stdout(report(file, t));
  return t.untranslated.length === 0 ? 0 : 1;
}

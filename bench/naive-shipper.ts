// The naive shipper: reads a JSONL file line by line and POSTs each line on
// its own (one request, in order, waiting for each answer), as a first-cut
// tail-and-post loop does. Stops after MAX_LINES and prints what it did. A
// baseline for the catch-up benchmark, not a product.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';

const { FILE, URL: TARGET, WORKSPACE_ID } = process.env;
const maxLines = Number(process.env.MAX_LINES ?? Infinity);
const agent = new Agent({ connections: 1 });
const started = performance.now();
let lines = 0;
for await (const line of createInterface({ input: createReadStream(FILE!), crlfDelay: Infinity })) {
  if (lines >= maxLines) break;
  const body = JSON.stringify({ workspace_id: WORKSPACE_ID, ...(JSON.parse(line) as object) });
  const res = await request(TARGET!, { method: 'POST', dispatcher: agent, body, headers: { 'content-type': 'application/json' } });
  await res.body.dump();
  if (res.statusCode !== 201) throw new Error(`naive receiver answered ${res.statusCode}`);
  lines++;
}
process.stdout.write(`${JSON.stringify({ lines, seconds: (performance.now() - started) / 1000 })}\n`);
await agent.close();

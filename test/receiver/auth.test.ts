// Ingest needs a bearer token: the shared one, or a per-workspace token that
// writes only its own workspace. The read token never works for ingest.

import { beforeAll, describe, expect, it } from 'vitest';
import { mintWorkspaceToken } from '../../receiver/auth.js';
import { freshDatabase } from '../helpers/database.js';
import { ndjson, postArray, postLines, request } from '../helpers/http.js';
import { READ_TOKEN, startTestReceiver, TOKEN_SECRET } from '../helpers/receiver.js';

let base: string;
const line = ndjson([{ command: 'x', exit_code: 0, timestamp: 1 }]);

beforeAll(async () => {
  base = (await startTestReceiver(await freshDatabase())).url;
});

describe('ingest auth', () => {
  it('401 without a token', async () => {
    const res = await postLines(base, 'commands', line, { token: null });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('unauthorized');
  });

  it('401 with a wrong token, and with the read token', async () => {
    expect((await postLines(base, 'commands', line, { token: 'nope' })).status).toBe(401);
    expect((await postLines(base, 'commands', line, { token: READ_TOKEN })).status).toBe(401);
  });

  it('401 with a per-workspace token minted with another secret', async () => {
    const forged = mintWorkspaceToken('not-the-secret', 'ws-a');
    expect((await postLines(base, 'commands', line, { workspace: 'ws-a', token: forged })).status).toBe(401);
  });

  it('a per-workspace token writes its own workspace', async () => {
    const res = await postLines(base, 'commands', line, { workspace: 'ws-a', token: mintWorkspaceToken(TOKEN_SECRET, 'ws-a') });
    expect(res.status).toBe(200);
  });

  it('403 when a per-workspace token writes another workspace', async () => {
    const res = await postLines(base, 'commands', line, { workspace: 'ws-b', token: mintWorkspaceToken(TOKEN_SECRET, 'ws-a') });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('forbidden');
  });

  it('403 when a Vector event inside an array names another workspace', async () => {
    const token = mintWorkspaceToken(TOKEN_SECRET, 'ws-a');
    const res = await postArray(base, 'commands', [
      { command: 'mine', exit_code: 0, timestamp: 1, workspace_id: 'ws-a' },
      { command: 'theirs', exit_code: 0, timestamp: 1, workspace_id: 'ws-b' },
    ], { token });
    expect(res.status).toBe(403);
  });

  it('403 on offsets, rejects and recordings of another workspace', async () => {
    const token = mintWorkspaceToken(TOKEN_SECRET, 'ws-a');
    expect((await request(`${base}/ingest/offsets?workspace_id=ws-b`, { token })).status).toBe(403);
    expect((await request(`${base}/ingest/recordings`, { method: 'POST', token, headers: { 'x-workspace-id': 'ws-b', 'content-type': 'application/json' }, body: '{"storage_path":"s3://b/k","last_sync_byte":1}' })).status).toBe(403);
    expect((await request(`${base}/ingest/rejects`, { method: 'POST', token, headers: { 'x-workspace-id': 'ws-b', 'content-type': 'application/json' }, body: '{}' })).status).toBe(403);
  });
});

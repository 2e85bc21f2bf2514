// The good lines the corpus puts around each hostile one, and where they land.

import type { LineStream } from '../../shared/wire.js';

export const TABLE: Record<LineStream, string> = { commands: 'command_log', events: 'state_timeline', llm: 'llm_interactions' };

/** The column that holds a good line's tag. */
export const TAG_COLUMN: Record<LineStream, string> = { commands: 'command', events: 'event_type', llm: 'response' };

/** A good line of the stream (without its newline), found again by `tag`. */
export function goodLine(stream: LineStream, tag: string): string {
  if (stream === 'commands') return JSON.stringify({ command: tag, exit_code: 0, timestamp: '2026-11-23T10:00:00Z' });
  if (stream === 'events') return JSON.stringify({ event_type: tag, timestamp: '2026-11-23T10:00:00Z' });
  return JSON.stringify({ step_id: 's', prompt_context: {}, response: tag, model: 'm', requested_at: '2026-11-23T10:00:00Z' });
}

// SQL fragments that turn the dashboard tables' rows into the JSON dashboards
// read (shared/wire.ts): the live stream's events and the read API build the
// same shapes from the same expressions. The seed's columns are TIMESTAMP
// without time zone, holding UTC; they leave as ISO 8601 with a Z.

export const isoTime = (col: string): string => `to_char(${col}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** A WorkspaceStatus object from a workspace_status row aliased `s`. */
export const STATUS_JSON = `jsonb_build_object('workspace_id', s.workspace_id, 'workshop_name', s.workshop_name,
  'current_step', s.current_step, 'connected', s.connected, 'last_active_at', ${isoTime('s.last_active_at')},
  'steps_completed', s.steps_completed, 'last_goss_passed', s.last_goss_passed, 'updated_at', ${isoTime('s.updated_at')})`;

/** A CommandSummary of a command_log row aliased `c`, the command cut to `chars`. */
export const commandJson = (chars?: number): string =>
  `jsonb_build_object('command', ${chars ? `left(c.command, ${chars})` : 'c.command'}, 'exit_code', c.exit_code, 'timestamp', ${isoTime('c.timestamp')})`;

/**
 * The newest command of workspace `ws` (an SQL expression): the index on
 * (workspace_id, timestamp), backwards, partition by partition from the
 * newest. `since`, an SQL expression of a time no later than that command,
 * leaves the older partitions out of the plan (planning costs a little per
 * partition).
 */
export const lastCommandOf = (ws: string, chars?: number, since?: string): string =>
  `(SELECT ${commandJson(chars)} FROM command_log c WHERE c.workspace_id = ${ws}${since ? ` AND c.timestamp >= ${since}` : ''} ORDER BY c.timestamp DESC LIMIT 1)`;

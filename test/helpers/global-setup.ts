// One real PostgreSQL for the whole run (each test file makes its own database
// on it), unless DATABASE_URL points at one already.

import type { TestProject } from 'vitest/node';
import { exitIfUnavailable, startPostgres, type PostgresServer } from '../../dev/embedded-postgres.js';

let server: PostgresServer | undefined;

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

export async function setup(project: TestProject): Promise<void> {
  const external = process.env.DATABASE_URL;
  if (!external) server = await startPostgres({ fast: true }).catch((error) => exitIfUnavailable(error, 'Run the tests on an existing PostgreSQL instead: DATABASE_URL=postgres://... npm test'));
  project.provide('pgAdminUrl', external ?? server!.url());
}

export async function teardown(): Promise<void> {
  await server?.destroy();
}

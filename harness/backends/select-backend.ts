/** `--backend auto|local|containers|external`: picks what this machine can run, or says what to install. */

import { findPostgres, findRedis } from '../../servers/binaries.ts';
import { type Backend, type BackendChoice, BackendUnavailableError } from './backend.ts';
import { type ExternalBackendOptions, externalBackend } from './external-backend.ts';
import { localBackend } from './local/local-backend.ts';

const INSTALL_HINT =
  'Install redis-server and PostgreSQL (Debian: apt-get install redis-server postgresql; macOS: brew install redis postgresql@15), ' +
  'or start a Docker engine and use --backend containers, or pass --backend external with --redis-url and --database-url. ' +
  'Run `tiketi-sim doctor` to see what was found.';

function localMissing(): string[] {
  const missing: string[] = [];
  if (!findRedis()) missing.push('redis-server');
  if (!findPostgres()) missing.push('PostgreSQL server binaries (initdb, postgres)');
  return missing;
}

/** Loaded only when containers may be used: testcontainers takes a third of a second to import. */
const containers = () => import('./containers/containers-backend.ts');

export async function selectBackend(
  choice: BackendChoice,
  external: ExternalBackendOptions = {},
): Promise<Backend> {
  switch (choice) {
    case 'local': {
      const missing = localMissing();
      if (missing.length > 0)
        throw new BackendUnavailableError(
          `--backend local: ${missing.join(' and ')} not found. ${INSTALL_HINT}`,
        );
      return localBackend;
    }
    case 'containers': {
      const { containerEngineAvailable, containersBackend } = await containers();
      const engine = await containerEngineAvailable();
      if (!engine.ok)
        throw new BackendUnavailableError(
          `--backend containers: no container engine answers (${engine.reason}). Start Docker, or use --backend local.`,
        );
      return containersBackend;
    }
    case 'external':
      return externalBackend(external);
    case 'auto': {
      const missing = localMissing();
      if (missing.length === 0) return localBackend;
      const { containerEngineAvailable, containersBackend } = await containers();
      const engine = await containerEngineAvailable();
      if (engine.ok) return containersBackend;
      throw new BackendUnavailableError(
        `no backend can run here: ${missing.join(' and ')} not found, and no container engine answers (${engine.reason}). ${INSTALL_HINT}`,
      );
    }
  }
}

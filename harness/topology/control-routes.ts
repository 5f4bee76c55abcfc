import { FaultError, type InjectedFault } from '../faults/inject.ts';
import type { FaultRecord } from '../report/run-record.ts';
import { type FaultAction, faultActionSchema } from '../scenario/schema.ts';
import { type ControlServer, readJson, replyError, replyJson } from './control-server.ts';

/** `GET /status`, `GET /faults`, `POST /faults`: what `tiketi-sim status` and `chaos` call. */
export function mountTopologyRoutes(
  control: Pick<ControlServer, 'mount'>,
  topology: {
    status: () => unknown;
    faultRecords: () => FaultRecord[];
    injectFault: (fault: FaultAction) => Promise<InjectedFault>;
  },
): void {
  control.mount('GET', '/status', (_req, res) => replyJson(res, 200, topology.status()));
  control.mount('GET', '/faults', (_req, res) => replyJson(res, 200, topology.faultRecords()));
  control.mount('POST', '/faults', async (req, res) => {
    const read = await readJson(req);
    if (!read.ok) return replyError(res, 400, { code: 'invalid_json', message: 'the body is not JSON' });
    const parsed = faultActionSchema.safeParse(read.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return replyError(res, 400, {
        code: 'invalid_fault',
        message: issue.message,
        field: issue.path.join('.') || 'fault',
      });
    }
    try {
      replyJson(res, 201, (await topology.injectFault(parsed.data)).record);
    } catch (err) {
      if (err instanceof FaultError)
        replyError(res, 409, { code: 'fault_not_possible', message: err.message });
      else replyError(res, 500, { code: 'fault_failed', message: (err as Error).message });
    }
  });
}

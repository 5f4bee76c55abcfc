/**
 * The scenario's plan and k6 options as the k6 script imports them. At export this module is
 * replaced by the generated one (harness/export/k6.ts, an esbuild plugin); here it declares their
 * types only, so the script type-checks against @types/k6 as written.
 */
import type { Options } from 'k6/options';
import type { ExportPlan } from '../plan.ts';

export interface K6Plan extends ExportPlan {
  /** Where users go unless `TARGET` is set (`k6 run -e TARGET=https://…`). */
  target: string;
}

export declare const K6_PLAN: K6Plan;
export declare const k6Options: Options;

/**
 * The scenario's plan as the Artillery processor imports it. At export this module is replaced by
 * the generated one (harness/export/artillery.ts, an esbuild plugin); here it declares its type.
 */
import type { ExportPlan } from '../plan.ts';

export declare const ARTILLERY_PLAN: ExportPlan;

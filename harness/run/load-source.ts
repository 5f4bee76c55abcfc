/** Where the users come from: tiketi-sim's own load generator, or an engine that runs beside it. */
export const LOAD_SOURCES = ['generator', 'external'] as const;
export type LoadSource = (typeof LOAD_SOURCES)[number];

import { describe, expect, it } from 'vitest';
import { deepMerge, designTopology, mergeTopology } from './topology.ts';

describe('deepMerge', () => {
  it('merges objects key by key; arrays and values replace; undefined keeps the base', () => {
    const base = { a: { b: 1, c: [1, 2], d: 'x' }, e: 2 };
    const merged = deepMerge(base, { a: { c: [3], d: undefined, f: { g: true } }, h: null });
    expect(merged).toEqual({ a: { b: 1, c: [3], d: 'x', f: { g: true } }, e: 2, h: null });
    expect(base).toEqual({ a: { b: 1, c: [1, 2], d: 'x' }, e: 2 });
    expect(deepMerge(undefined, { a: 1 })).toEqual({ a: 1 });
    expect(deepMerge('scalar', { a: 1 })).toEqual({ a: 1 });
  });

  it('is what mergeTopology and a scenario’s --set overrides use: the design keeps what is not overridden', () => {
    const merged = mergeTopology(designTopology, { autoScalingGroup: { maxSize: 12 } });
    expect(merged.autoScalingGroup).toEqual({ ...designTopology.autoScalingGroup, maxSize: 12 });
    expect(merged.loadBalancer).toEqual(designTopology.loadBalancer);
  });
});

import { describe, expect, it } from 'vitest';
import type { TargetState } from './protocol.ts';
import { chooseTarget, departedTargets, routableTargets } from './routing.ts';

const t = (id: string, state: TargetState) => ({ id, state });
const routable = (...targets: { id: string; state: TargetState }[]) =>
  routableTargets(targets, (x) => x.state).map((x) => x.id);

describe('which targets take new traffic', () => {
  it('the healthy ones only, while any is healthy', () => {
    expect(
      routable(
        t('a', 'healthy'),
        t('b', 'unhealthy'),
        t('c', 'initial'),
        t('d', 'draining'),
        t('e', 'healthy'),
      ),
    ).toEqual(['a', 'e']);
  });

  it('fails open: every unhealthy one when none is healthy', () => {
    expect(routable(t('a', 'unhealthy'), t('b', 'initial'), t('c', 'unhealthy'))).toEqual(['a', 'c']);
  });

  it('never a draining, initial or unused one, even when nothing else is left: 503', () => {
    expect(routable(t('a', 'draining'), t('b', 'initial'), t('c', 'unused'))).toEqual([]);
    expect(routable()).toEqual([]);
  });
});

describe('choosing a target', () => {
  const [a, b, c] = ['a', 'b', 'c'];

  it('keeps a client on its sticky target while that target takes new traffic, with no new cookie', () => {
    expect(chooseTarget([a, b, c], b, 0)).toEqual({ target: b, setCookie: false });
    expect(chooseTarget([a, b, c], b, 7)).toEqual({ target: b, setCookie: false });
  });

  it('moves a client whose sticky target is draining or gone to the next one, with a new cookie', () => {
    expect(chooseTarget([a, c], b, 1)).toEqual({ target: c, setCookie: true });
  });

  it('takes turns round robin for clients without stickiness', () => {
    const picks = [0, 1, 2, 3, 4].map((turn) => chooseTarget([a, b, c], undefined, turn)?.target);
    expect(picks).toEqual([a, b, c, a, b]);
  });

  it('has nothing to choose when nothing is routable, sticky or not', () => {
    expect(chooseTarget([], a, 0)).toBeUndefined();
    expect(chooseTarget([], undefined, 0)).toBeUndefined();
  });
});

describe('targets that left the table', () => {
  it('are the ids the new table leaves out', () => {
    expect(departedTargets(['a', 'b', 'c'], [{ id: 'c' }, { id: 'd' }])).toEqual(['a', 'b']);
    expect(departedTargets(['a'], [{ id: 'a' }])).toEqual([]);
  });
});

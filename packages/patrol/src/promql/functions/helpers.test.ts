import { test } from 'node:test';
import assert from 'node:assert/strict';
import { absentLabels, compareNatural, compareSortAsc, compareSortDesc, expandTemplate } from './index.js';

test('label_replace templates expand like Go regexp.Expand', () => {
  const m = /^(?:(?<first>a+)-(b+))$/s.exec('aa-bbb')!;
  assert.equal(expandTemplate('$1/$2', m), 'aa/bbb');
  assert.equal(expandTemplate('${1}x', m), 'aax');
  // `$1x` names a group "1x", which does not exist.
  assert.equal(expandTemplate('$1x', m), '');
  assert.equal(expandTemplate('$first-${first}', m), 'aa-aa');
  assert.equal(expandTemplate('$$1 $ ${', m), '$1 $ ${');
  assert.equal(expandTemplate('$3', m), '');
  assert.equal(expandTemplate('$01', m), '');
  assert.equal(expandTemplate('value-$0', m), 'value-aa-bbb');
});

test('absent() labels come from equality matchers only', () => {
  const eq = (name: string, value: string) => ({ type: '=', name, value });
  assert.deepEqual(absentLabels([eq('__name__', 'x'), eq('job', 'a'), eq('foo', 'bar')]), { job: 'a', foo: 'bar' });
  assert.deepEqual(absentLabels([eq('job', 'a'), eq('job', 'b'), eq('foo', 'bar')]), { foo: 'bar' });
  assert.deepEqual(absentLabels([{ type: '=~', name: 'job', value: 'a.*' }, eq('foo', 'bar')]), { foo: 'bar' });
});

test('sort orders put NaN last both ways', () => {
  assert.deepEqual([3, NaN, 1, 2].sort(compareSortAsc), [1, 2, 3, NaN]);
  assert.deepEqual([3, NaN, 1, 2].sort(compareSortDesc), [3, 2, 1, NaN]);
});

test('natural order for sort_by_label', () => {
  assert.deepEqual(['a10', 'a2', 'a1', 'b', 'a'].sort(compareNatural), ['a', 'a1', 'a2', 'a10', 'b']);
  assert.deepEqual(['10.0.0.2', '10.0.0.10', '9.1'].sort(compareNatural), ['9.1', '10.0.0.2', '10.0.0.10']);
});

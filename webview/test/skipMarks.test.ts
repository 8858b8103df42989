// The loss chart's marks for steps the bad-step guard skipped: at the skipped step's number on
// the step axis (at the step that took its place on the tokens/time axes), on the loss before it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { skipMarks } from '../src/skipMarks';
import type { StepPoint } from '../src/messages';

const points: StepPoint[] = [1, 2, 3, 4, 5].map((step) => ({ step, loss: 10 - step, tokens: step * 100, elapsed: step * 2 }));

test('marks by step, tokens and time', () => {
  // step 3 skipped once: the applied step after it also says 3 (the 3rd point here)
  assert.deepEqual(skipMarks([3], points, 'step'), [{ x: 3, y: 8 }]);
  assert.deepEqual(skipMarks([3], points, 'tokens'), [{ x: 300, y: 8 }]);
  assert.deepEqual(skipMarks([3], points, 'time'), [{ x: 6, y: 8 }]);
  // the first step skipped: on the first loss; a skip after the last point: at its number
  assert.deepEqual(skipMarks([1], points, 'step'), [{ x: 1, y: 9 }]);
  assert.deepEqual(skipMarks([6], points, 'step'), [{ x: 6, y: 5 }]);
  assert.deepEqual(skipMarks([2], [], 'step'), []);
});

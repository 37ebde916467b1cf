/** Sidecar mode's batching: one signal per burst of changes, sent once no runner is busy. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChangeBatcher } from '../../src/agent/sidecar';
import { settle } from '../support/turns';

test('changes in one turn make one signal; a change while a runner is busy waits for it to settle', async () => {
  let busy = false;
  let sent = 0;
  const b = new ChangeBatcher(() => busy, () => (sent += 1));
  b.applied('t', true);
  b.applied('t', true);
  b.applied('t', true);
  await settle();
  assert.equal(sent, 1, 'three changes in one turn: one signal');

  busy = true;
  b.applied('t', true);
  await settle();
  assert.equal(sent, 1, 'not while a runner is still applying');
  b.settled();
  await settle();
  assert.equal(sent, 1, 'a settle while still busy sends nothing');
  busy = false;
  b.settled();
  await settle();
  assert.equal(sent, 2, 'the batch completes when the last runner settles');

  b.settled();
  await settle();
  assert.equal(sent, 2, 'a settle with nothing pending sends nothing');

  b.applied('t', false);
  b.settled();
  await settle();
  assert.equal(sent, 2, 'an apply that changed nothing (the file already matched) sends nothing');
});

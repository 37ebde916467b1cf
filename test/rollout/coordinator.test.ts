/**
 * The rollout coordinator (src/rollout/coordinator.ts) against a real etcd, fed reports written by hand: it
 * writes each target's record, and writes it again when something else wrote over it (the gates follow what is
 * in etcd; a record left stale holds their wave for ever).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AgentReport } from '../../src/agent/report';
import { Coordinator } from '../../src/rollout/coordinator';
import { rolloutKey, type RolloutRecord } from '../../src/rollout/record';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { memoryLogger } from '../support/fake-target';
import { waitFor } from '../support/util';

const shared = sharedEtcd();

test('the coordinator writes its record again when another writer put a stale one over it', async () => {
  const prefix = `${uniquePrefix('coord')}-fleet`;
  const rev = Number((await shared.client.put(`${prefix}-data`).value('x')).header.revision);
  const report: AgentReport = {
    name: 'h0',
    version: 'test',
    started: new Date().toISOString(),
    updated: new Date().toISOString(),
    wave: 0,
    targets: { app: { revision: rev, state: 'ok', since: new Date().toISOString(), rollout: { bakeMs: 0, minhosts: 1 } } },
  };
  await shared.client.put(`${prefix}/h0`).value(JSON.stringify(report));
  const { log } = memoryLogger();
  const coordinator = new Coordinator(() => Promise.resolve(shared.client), prefix, 'c0', log, 5);
  coordinator.start();
  const proven = async (): Promise<number | undefined> => {
    const v = await shared.client.get(rolloutKey(prefix, 'app')).string();
    return v === null ? undefined : (JSON.parse(v) as RolloutRecord).waves['0']?.proven?.revision;
  };
  try {
    await waitFor(async () => (await proven()) === rev, 'the coordinator to write wave 0 proven', 30_000);
    // A stale record, as a deposed coordinator wrote before records were fenced: the same proof, but wave 0 with
    // no live host (its gates would tell the next wave to wait for a promotion). The coordinator's own record, computed
    // again, is what it wrote before: it must not take that for what etcd holds.
    const ours = JSON.parse((await shared.client.get(rolloutKey(prefix, 'app')).string())!) as RolloutRecord;
    const stale: RolloutRecord = { ...ours, waves: { '0': { ...ours.waves['0'], hosts: 0 } } };
    await shared.client.put(rolloutKey(prefix, 'app')).value(JSON.stringify(stale));
    const hosts = async (): Promise<number | undefined> => (JSON.parse((await shared.client.get(rolloutKey(prefix, 'app')).string())!) as RolloutRecord).waves['0'].hosts;
    await waitFor(async () => (await hosts()) === 1, 'the coordinator to write its record over the stale one', 20_000);
    assert.equal(await proven(), rev);
  } finally {
    await coordinator.stop();
  }
});

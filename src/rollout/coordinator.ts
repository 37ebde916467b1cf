/**
 * The rollout coordinator: one agent of the fleet, chosen with etcd's own election (etcd3's `election`, under
 * `<prefix>/rollout-election/`), watches every report under `<prefix>/` and writes each target's record,
 * `<prefix>/rollout/<target>` (decide.ts's `prove`), so that the later waves' agents watch one small key per
 * target instead of every report. Every agent with a `rollout` target campaigns; when the leader dies, its
 * election key goes with its lease (ELECTION_TTL_SECONDS) and the next candidate takes over: it reads the reports
 * and the records afresh, keeps what was proven, and starts its bake clocks anew (so it proves late, never early).
 */
import type { Campaign, Etcd3 } from 'etcd3';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { ELECTION_DIR } from './record';
import { Session } from './session';

/** A dead coordinator's election key goes this long after its last keep-alive; the next one takes over then. */
export const ELECTION_TTL_SECONDS = 10;
const RETRY_MS = 1000;

type State = { kind: 'idle' } | { kind: 'campaigning'; campaign: Campaign } | { kind: 'leading'; campaign: Campaign; session: Session } | { kind: 'stopped' };

export class Coordinator {
  private state: State = { kind: 'idle' };
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly client: () => Promise<Etcd3>,
    private readonly prefix: string,
    private readonly name: string,
    private readonly log: Logger,
    private readonly ttlSeconds = ELECTION_TTL_SECONDS,
  ) {}

  /** Campaigns now, and again after a failed campaign, until stop(). */
  start(): void {
    this.client().then(
      (client) => this.campaign(client),
      (err: unknown) => this.again(err),
    );
  }

  private campaign(client: Etcd3): void {
    if (this.state.kind === 'stopped') return;
    // etcd3 keeps an election's keys under `<namespace>election/<name>/`: `<prefix>/rollout-election/coordinator/<lease>`.
    const election = client.namespace(`${this.prefix}/rollout-`).election('coordinator', this.ttlSeconds);
    const campaign = election.campaign(this.name);
    this.state = { kind: 'campaigning', campaign };
    campaign.on('elected', () => {
      if (this.state.kind !== 'campaigning' || this.state.campaign !== campaign) return;
      this.log.info({ election: `${this.prefix}/${ELECTION_DIR}` }, 'elected to coordinate the rollouts');
      // Every record written is fenced on this leader's own election key: a leader that lost its lease (and so
      // its key) before it heard so writes nothing more.
      const fence = campaign.getCampaignKey();
      fence.catch(() => undefined);
      const session = new Session(client, this.prefix, this.log, () => fence);
      this.state = { kind: 'leading', campaign, session };
      session.start();
    });
    campaign.on('error', (err: unknown) => {
      if (this.state.kind === 'stopped') return;
      if (this.state.kind === 'leading') void this.state.session.stop();
      this.log.warn({ err: errorMessage(err) }, 'rollout election lost or failed; campaigning again');
      this.state = { kind: 'idle' };
      this.again(err);
    });
  }

  private again(err: unknown): void {
    if (this.state.kind === 'stopped' || this.retry) return;
    this.log.debug({ err: errorMessage(err) }, 'rollout election: retrying');
    this.retry = setTimeout(() => {
      this.retry = null;
      this.start();
    }, RETRY_MS);
  }

  /** Stops coordinating and resigns, so that another agent takes over at once. */
  async stop(): Promise<void> {
    const s = this.state;
    this.state = { kind: 'stopped' };
    if (this.retry) clearTimeout(this.retry);
    if (s.kind === 'leading') await s.session.stop();
    if (s.kind === 'leading' || s.kind === 'campaigning') await s.campaign.resign().catch(() => undefined);
  }
}

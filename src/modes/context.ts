/** What every mode is given besides its plan: the logger, SIGHUP, and where its own output goes. */
import type { Logger } from '../log';
import type { HupRelay } from '../signals';

export interface ModeContext {
  log: Logger;
  /** SIGHUP, held since start-up (see signals.ts). */
  hups: HupRelay;
  /** stdout: what a person or a pipe asked for (a summary, diffs, a rendered file, a table). */
  out: (text: string) => void;
  /** stderr, for a command's plain-text findings (the agent itself logs through `log`). */
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

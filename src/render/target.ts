/**
 * The one way a target is rendered, whatever the mode (the watching agent, sidecar mode, --onetime, `reconfig
 * render`): the guards on its data (minkeys, values), then its plugin, then its template. Pure but for the
 * plugin, which is the user's own code.
 */
import type { Target } from '../target';
import { HoldError, TargetError } from '../errors';
import type { TargetData } from './data';
import { runPlugin } from './plugin';
import { assertValues } from './values';

/** What a target renders from: its etcd data, and what its other sources gave, by template name. */
export interface RenderInputs {
  data: TargetData;
  /** Each source's input under its template name (`containers`). */
  given?: ReadonlyMap<string, unknown>;
}

export interface RenderOptions {
  /** Aborts a plugin run (the agent is stopping). */
  signal?: AbortSignal;
  /** How long the template itself took, in seconds (for metrics). */
  onRendered?: (seconds: number) => void;
}

/**
 * Renders every file of `t` from `inputs` (the same data, the same plugin object), in the order of `t.files`.
 * Throws TargetError: stage `hold` when a guard holds the target (too few keys, a value breaking a rule),
 * `render` for a refused value, a failed plugin (its cause a PluginError) or a template error in any file.
 */
export async function renderTarget(t: Target, inputs: RenderInputs, opts: RenderOptions = {}): Promise<string[]> {
  checkMinkeys(t, inputs.data);
  assertValues(t.id, inputs.data);
  const data = inputs.data.toObject();
  let plugin: object | undefined;
  if (t.plugin) {
    try {
      plugin = await runPlugin(t.plugin, { target: t.id, data }, t.timeoutMs, opts.signal);
    } catch (err) {
      throw new TargetError(t.id, 'render', err);
    }
  }
  const started = performance.now();
  try {
    const extras = { ...Object.fromEntries(inputs.given ?? []), plugin };
    return t.files.map((f) => f.render(data, extras, t.keys));
  } catch (err) {
    throw new TargetError(t.id, 'render', err);
  } finally {
    opts.onRendered?.((performance.now() - started) / 1000);
  }
}

/** The guard against an emptied backend wiping a config (consul-template #727, #21, #1713). */
function checkMinkeys(t: Target, data: TargetData): void {
  const min = t.minkeys;
  if (min === undefined || data.size >= min) return;
  throw new TargetError(t.id, 'hold', new HoldError(`${t.key} holds ${data.size} key(s), fewer than minkeys ${min}; left untouched`));
}

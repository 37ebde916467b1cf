/**
 * The one way a target is rendered, whatever the mode (the watching agent, sidecar mode, --onetime, `reconfig
 * render`): the guards on its data (minkeys, values), then its plugin, then its template. Pure but for the
 * plugin, which is the user's own code, and the DNS names its templates look up, resolved between renders.
 */
import type { Target } from '../target';
import { HoldError, TargetError, TemplateError } from '../errors';
import type { TargetData } from './data';
import { LOOKUPS, Lookups, MAX_LOOKUPS, lookupNeeded, systemResolver, type LookupNeeded, type Resolver } from './lookup';
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
  /** How long the template itself took, in seconds (for metrics); DNS lookups between renders are not counted. */
  onRendered?: (seconds: number) => void;
  /** Where templates' DNS names are resolved: the machine's resolver unless given (fast tests give their own). */
  resolver?: Resolver;
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
  // A template that looks up a DNS name this render has not resolved stops there; the name is resolved and the
  // render starts again from the first file, with every answer so far (lookup.ts).
  const lookups = new Lookups();
  const extras = { ...Object.fromEntries(inputs.given ?? []), plugin, [LOOKUPS]: lookups };
  const dns = new DnsBudget(t, opts);
  let seconds = 0;
  try {
    for (;;) {
      const started = performance.now();
      let needed: LookupNeeded | undefined;
      try {
        return t.files.map((f) => f.render(data, extras, t.keys));
      } catch (err) {
        needed = lookupNeeded(err);
        if (!needed) throw new TargetError(t.id, 'render', err);
      } finally {
        seconds += (performance.now() - started) / 1000;
      }
      await dns.resolve(needed, lookups);
    }
  } finally {
    dns.done();
    opts.onRendered?.(seconds);
  }
}

/** The DNS of one render: at most MAX_LOOKUPS names, all answered within the target's timeoutMs. */
class DnsBudget {
  private readonly resolver: Resolver;
  private deadline?: AbortController;
  private timer?: NodeJS.Timeout;
  constructor(
    private readonly t: Target,
    private readonly opts: RenderOptions,
  ) {
    this.resolver = opts.resolver ?? systemResolver();
  }

  /** Resolves what `needed` asks into `lookups`; throws TargetError (stage render) naming the template's line. */
  async resolve(needed: LookupNeeded, lookups: Lookups): Promise<void> {
    const { template, line } = needed.where ?? { template: this.t.files[0].source };
    const q = needed.question;
    const what = `lookup${q.kind === 'ip' ? 'IP' : 'SRV'} ${JSON.stringify(q.name)}`;
    if (lookups.size >= MAX_LOOKUPS) {
      throw new TargetError(this.t.id, 'render', new TemplateError(template, line, `${what}: one render may look up at most ${MAX_LOOKUPS} DNS names`));
    }
    if (!this.deadline) {
      const deadline = new AbortController();
      this.timer = setTimeout(() => deadline.abort(new Error(`DNS lookups took over ${this.t.timeoutMs} ms`)), this.t.timeoutMs);
      this.deadline = deadline;
    }
    try {
      await lookups.resolve(q, this.resolver, { deadline: this.deadline.signal, timeoutMs: this.t.timeoutMs, signal: this.opts.signal });
    } catch (err) {
      throw new TargetError(this.t.id, 'render', new TemplateError(template, line, (err as Error).message, { cause: err }));
    }
  }

  done(): void {
    clearTimeout(this.timer);
  }
}

/** The guard against an emptied backend wiping a config (consul-template #727, #21, #1713). */
function checkMinkeys(t: Target, data: TargetData): void {
  const min = t.minkeys;
  if (min === undefined || data.size >= min) return;
  throw new TargetError(t.id, 'hold', new HoldError(`${t.key} holds ${data.size} key(s), fewer than minkeys ${min}; left untouched`));
}

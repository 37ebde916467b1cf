/**
 * The JSON Schema of a target file: the single source of truth for validation, defaults and docs/configuration.md's
 * field table. `TargetSpec` is checked against it at compile time through ajv's JSONSchemaType.
 */
import type { JSONSchemaType } from 'ajv';

/** A target file in conf.d/, as written by the user (after defaults are applied). */
export interface TargetSpec {
  id: string;
  source?: string;
  target?: string;
  files?: FileSpec[];
  key?: string;
  keys?: KeyEntry[];
  recursive: boolean;
  plugin?: string;
  interval?: string;
  docker?: { socket: string; filters?: Record<string, string[]> };
  notify?: { socket: string; filters: Record<string, string[]>; signal: string; restart: boolean };
  checkcmd?: string;
  reloadcmd?: string;
  reloadsignal?: { pidfile: string; signal: string };
  mode?: string;
  owner?: string | number;
  group?: string | number;
  timeout: string;
  minkeys?: number;
  wait?: { min: string; max?: string };
  splay?: string;
  multiline: boolean;
  values?: ValueRuleSpec[];
  verify?: VerifySpec;
  history?: number | boolean;
  /** Waves (`--wave`): a later wave applies a revision only once the wave before proved it (src/rollout/). */
  rollout?: RolloutSpec;
}

/** A rollout across waves: how long wave N-1 must stay ok at a revision, and how many of its hosts must. */
export interface RolloutSpec {
  bake: string;
  minhosts: number;
}

/** One file of a target of several (`files`): rendered from the same data, applied with the others as one. */
export interface FileSpec {
  source: string;
  target: string;
  /** How checkcmd names its staged path: `{{src.<name>}}`. Default: the target file's base name. */
  name?: string;
  mode?: string;
  owner?: string | number;
  group?: string | number;
}

/** A health check after the reload; a failure puts the previous files back. */
export interface VerifySpec {
  cmd: string;
  within: string;
  every: string;
}

/** One entry of a target's `keys`: a key taking the target's `recursive`, or a key with its own. */
export type KeyEntry = string | { key: string; recursive?: boolean };

/** One entry of a target's `values`: the values of the keys matching `keys` must satisfy `schema`. */
export interface ValueRuleSpec {
  keys?: string;
  schema: Record<string, unknown> | boolean;
  json: boolean;
}

const nameOrId = {
  type: ['string', 'integer'],
  minLength: 1,
  minimum: 0,
  nullable: true,
} as const;

/** Signals a reloadsignal may send: the ones daemons use for reload, reopen or graceful restart. */
export const RELOAD_SIGNALS = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGWINCH', 'SIGCONT'] as const;

export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$';

// ajv's strict mode wants each required field named in properties beside it.
const has = (...fields: string[]): object => ({ properties: Object.fromEntries(fields.map((f) => [f, {}])), required: fields });
const hasAny = (...fields: string[]): object => ({ anyOf: fields.map((f) => has(f)) });

/**
 * Rules that tie fields together, as JSON Schema. `$comment` is the message for a target that breaks the rule,
 * beginning with the field it is about. (wait.max >= wait.min and a "/" key with no --prefix need values the
 * schema cannot compare or see; read.ts checks those two.)
 */
export const CROSS_FIELD_RULES: ReadonlyArray<Record<string, unknown>> = [
  {
    $comment: '/files: give either source and target, or files, not both',
    if: has('files'),
    then: { not: hasAny('source', 'target', 'mode', 'owner', 'group') },
  },
  {
    $comment: '/source: is required (or files)',
    if: { not: has('files') },
    then: has('source'),
  },
  {
    $comment: '/target: is required (or files)',
    if: { not: has('files') },
    then: has('target'),
  },
  {
    $comment: '/key: is required (or keys)',
    if: { not: hasAny('plugin', 'docker') },
    then: hasAny('key', 'keys'),
  },
  {
    $comment: '/interval: is required for a plugin target with no key (how often to run it)',
    if: { allOf: [has('plugin'), { not: hasAny('key', 'keys', 'docker') }] },
    then: has('interval'),
  },
  {
    $comment: '/interval: only for a plugin target with no key (a target with a key re-renders on change)',
    if: has('interval'),
    then: { allOf: [has('plugin'), { not: hasAny('key', 'keys') }] },
  },
  {
    $comment: '/reloadsignal: give either reloadcmd or reloadsignal, not both',
    not: has('reloadcmd', 'reloadsignal'),
  },
  {
    $comment: '/values: only for a target with a key (the rules check its values from etcd)',
    if: has('values'),
    then: hasAny('key', 'keys'),
  },
];

export const targetSchema: JSONSchemaType<TargetSpec> = {
  $id: 'https://reconfig.dev/schema/target.json',
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  // The rules between fields. Each one's message is its $comment, which read.ts reports instead of ajv's words.
  // (JSONSchemaType has no place for allOf of if/then, hence the cast.)
  ...({ allOf: CROSS_FIELD_RULES } as object),
  properties: {
    id: { type: 'string', minLength: 1, description: 'A unique name for the target, used in logs and metrics.' },
    source: {
      type: 'string',
      minLength: 1,
      nullable: true,
      description: 'The EJS template, relative to `<cfgdir>/templates/`, or absolute. Required unless `files` is given.',
    },
    target: {
      type: 'string',
      minLength: 1,
      nullable: true,
      description: 'The file to write, absolute or relative to cfgdir. Missing parent directories are created (0755). Required unless `files` is given.',
    },
    files: {
      type: 'array',
      minItems: 1,
      nullable: true,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['source', 'target'],
        properties: {
          source: { type: 'string', minLength: 1 },
          target: { type: 'string', minLength: 1 },
          name: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', nullable: true },
          mode: { type: 'string', pattern: '^0?[0-7]{3}$', nullable: true },
          owner: nameOrId as never,
          group: nameOrId as never,
        },
      },
      description:
        'Instead of `source` and `target`: several files applied as one, `[{"source": "haproxy.cfg.ejs", "target": "/etc/haproxy/haproxy.cfg"}, {"source": "hosts.map.ejs", "target": "/etc/haproxy/hosts.map", "mode": "0640"}]` (`name`, `mode`, `owner`, `group` per file). Every template renders the same data at one revision; all are checked, swapped and reloaded together, or none is (see "Applying a target"). `checkcmd` names the first staged file `{{src}}` and each by its `name` as `{{src.<name>}}` (default name: the target file\'s base name, e.g. `{{src.hosts.map}}`).',
    },
    key: {
      type: 'string',
      pattern: '^/',
      nullable: true,
      description: 'The etcd key, beginning with `/` (the global `--prefix` is put in front). Required unless `keys`, `plugin` or `docker` is given. A trailing slash is dropped; `/` alone means everything under `--prefix` and is refused without one.',
    },
    keys: {
      type: 'array',
      minItems: 1,
      nullable: true,
      // JSONSchemaType cannot express an array of a union (a key, or a key with its own recursive), hence the cast.
      items: {
        oneOf: [
          { type: 'string', pattern: '^/' },
          {
            type: 'object',
            additionalProperties: false,
            required: ['key'],
            properties: { key: { type: 'string', pattern: '^/' }, recursive: { type: 'boolean' } },
          },
        ],
      } as unknown as JSONSchemaType<KeyEntry>,
      description:
        'More keys the target reads, beside `key` or instead of it (then the first is the target\'s own): each a key (taking the target\'s `recursive`) or `{"key": "/global", "recursive": true}`. Every key is read at one revision and watched on the same stream; templates see them all in `reconfigdata`. A target\'s own key is unique across conf.d; the others may be shared (a `/global` read by many targets). No key of a target may lie within another of its keys.',
    },
    plugin: {
      type: 'string',
      minLength: 1,
      nullable: true,
      description: 'A trusted JS module (absolute, or relative to cfgdir) whose `get(context)` gives the template `plugin` (see "Data from beyond etcd").',
    },
    docker: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: [],
      properties: {
        socket: { type: 'string', minLength: 1, default: '/var/run/docker.sock' },
        filters: { type: 'object', nullable: true, required: [], additionalProperties: { type: 'array', items: { type: 'string' } } },
      },
      description: '`{"socket": "/var/run/docker.sock", "filters": {"label": ["app=web"]}}`: the template gets `containers`, the running containers (Docker Engine API), re-rendered as they start and stop.',
    },
    notify: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['filters'],
      properties: {
        socket: { type: 'string', minLength: 1, default: '/var/run/docker.sock' },
        filters: { type: 'object', required: [], additionalProperties: { type: 'array', items: { type: 'string' } } },
        signal: { type: 'string', enum: [...RELOAD_SIGNALS], default: 'SIGHUP' },
        restart: { type: 'boolean', default: false },
      },
      description: '`{"filters": {"name": ["nginx"]}, "signal": "SIGHUP"}` (or `"restart": true`): containers to signal or restart after the file changed.',
    },
    interval: {
      type: 'string',
      pattern: DURATION_PATTERN,
      nullable: true,
      description: 'For a `plugin` target with no `key`: run the plugin and re-render this often (`"30s"`).',
    },
    recursive: {
      type: 'boolean',
      default: false,
      description: '`true`: every key strictly under `key/`, plus `key` itself if it holds a value. `/app` never sees `/apple`.',
    },
    checkcmd: {
      type: 'string',
      minLength: 1,
      nullable: true,
      description: 'Run before the swap; `{{src}}` (or confd\'s `{{.src}}`) becomes the shell-quoted path of the staged file. Without `{{src}}` it checks the live path after the swap, and the old file is put back if it fails.',
    },
    reloadcmd: {
      type: 'string',
      minLength: 1,
      nullable: true,
      description: 'Run after the file changed (and again on the next apply if it failed).',
    },
    reloadsignal: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['pidfile'],
      properties: {
        pidfile: { type: 'string', minLength: 1 },
        signal: { type: 'string', enum: [...RELOAD_SIGNALS], default: 'SIGHUP' },
      },
      description: 'Instead of `reloadcmd`: `{"pidfile": "/run/haproxy.pid", "signal": "SIGUSR2"}` sends the signal (default `SIGHUP`) to the process whose id the pidfile holds. A missing or stale pidfile is a reload error with a clear message.',
    },
    mode: {
      type: 'string',
      pattern: '^0?[0-7]{3}$',
      nullable: true,
      description: 'Octal file mode such as `"0640"`. Default: keep the existing file\'s, else `0644`.',
    },
    // JSONSchemaType cannot express string|integer unions; the shared fragment is checked by ajv at run time.
    owner: { ...nameOrId, description: 'User name (looked up through NSS with `getent`, so LDAP names work) or numeric uid of the file. Default: keep the existing file\'s, else the agent\'s.' } as never,
    group: { ...nameOrId, description: 'Group name or numeric gid of the file. Default: keep the existing file\'s, else the agent\'s.' } as never,
    timeout: {
      type: 'string',
      pattern: DURATION_PATTERN,
      default: '60s',
      description: 'Time limit for `checkcmd` and `reloadcmd` (`"500ms"`, `"30s"`, `"2m"`); also for a plugin\'s `get`.',
    },
    minkeys: {
      type: 'integer',
      minimum: 0,
      nullable: true,
      description: 'While the target\'s data holds fewer keys than this, leave the file untouched and log an error (held); `--onetime` then exits 1. The guard against an emptied backend wiping a load balancer\'s config.',
    },
    wait: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['min'],
      properties: {
        min: { type: 'string', pattern: DURATION_PATTERN },
        max: { type: 'string', pattern: DURATION_PATTERN, nullable: true },
      },
      description: '`{"min": "500ms", "max": "2s"}`: after a change, apply once changes have been quiet for `min`, but never later than `max` after the first change (`max` defaults to 4 x `min`). The first render at start-up does not wait.',
    },
    splay: {
      type: 'string',
      pattern: DURATION_PATTERN,
      nullable: true,
      description:
        'After a change (and after any `wait`), wait a random time up to this (`"10s"`) before applying, so that a fleet of hosts does not reload together. Changes that arrive meanwhile join the same apply. The first render at start-up and `--onetime` do not splay.',
    },
    multiline: {
      type: 'boolean',
      default: false,
      description:
        'Allow values holding line breaks and other control characters (PEM certificates). Without it such a value fails the render.',
    },
    verify: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['cmd'],
      properties: {
        cmd: { type: 'string', minLength: 1 },
        within: { type: 'string', pattern: DURATION_PATTERN, default: '10s' },
        every: { type: 'string', pattern: DURATION_PATTERN, default: '1s' },
      },
      description:
        'A health check after each reload that changed something: `{"cmd": "curl -fsS http://127.0.0.1:8080/healthz", "within": "10s", "every": "1s"}`. `cmd` runs through `/bin/sh` (with the target\'s `timeout`) every `every` until it exits 0; if it has not within `within`, every file goes back to what it was before the apply, the reload runs again and the verify runs again on the old files. The refused render is remembered: the same bytes are not applied again until the data renders differently.',
    },
    history: {
      type: ['integer', 'boolean'] as never,
      nullable: true,
      minimum: 1,
      maximum: 1000,
      description:
        'Keep the last this many applied versions of the target\'s files (`true`: 5) under `--state-dir` (`/var/lib/reconfig/<id>/`), each with its revision, time and digest, for `reconfig history` and `reconfig rollback`. Off by default; a target that asks for it needs a writable state directory at start-up.',
    },
    rollout: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: [],
      properties: {
        bake: { type: 'string', pattern: DURATION_PATTERN, default: '60s' },
        minhosts: { type: 'integer', minimum: 1, default: 1 },
      },
      description:
        'Roll a change across the fleet in waves (`--wave N`, with `--report`): `{"bake": "60s", "minhosts": 1}`. An agent in wave 0 applies as usual; one in wave N > 0 applies a revision only once at least `minhosts` agents of wave N-1 report this target `ok` at it, every one of them does, and the last has stayed so for `bake`; it applies the data as of that revision. A failure in wave N-1 halts the revision for every later wave. See docs/fleet.md.',
    },
    values: {
      type: 'array',
      nullable: true,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['schema'],
        properties: {
          keys: { type: 'string', minLength: 1, nullable: true },
          // Any JSON Schema; ajv compiles it when conf.d is loaded (config/rules.ts) and reports a bad one there.
          schema: { type: ['object', 'boolean'] } as never,
          json: { type: 'boolean', default: false },
        },
      },
      description:
        'Rules for values: each `{keys, schema, json}` makes the values of the keys matching the glob `keys` (`*` one segment, `**` any depth; relative to `key` unless it begins with /; default every key) satisfy the JSON Schema `schema` (parsed as JSON first with `json: true`). A value that breaks a rule holds the target.',
    },
  },
};

/**
 * The JSON Schema of a target file: the single source of truth for validation, defaults and the README's
 * field table. `TargetSpec` is checked against it at compile time through ajv's JSONSchemaType.
 */
import type { JSONSchemaType } from 'ajv';

/** A target file in conf.d/, as written by the user (after defaults are applied). */
export interface TargetSpec {
  id: string;
  source: string;
  target: string;
  key?: string;
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
  multiline: boolean;
  values?: ValueRuleSpec[];
}

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

export const targetSchema: JSONSchemaType<TargetSpec> = {
  $id: 'https://reconfig.dev/schema/target.json',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'source', 'target'],
  // key is required unless the target has a plugin or Docker data. (JSONSchemaType has no place for if/then.)
  ...({
    if: { not: { anyOf: [{ properties: { plugin: {} }, required: ['plugin'] }, { properties: { docker: {} }, required: ['docker'] }] } },
    then: { properties: { key: {} }, required: ['key'] },
  } as object),
  properties: {
    id: { type: 'string', minLength: 1, description: 'A unique name for the target, used in logs.' },
    source: {
      type: 'string',
      minLength: 1,
      description: 'The EJS template, relative to <cfgdir>/templates/, or absolute.',
    },
    target: { type: 'string', minLength: 1, description: 'The file to write, absolute or relative to cfgdir.' },
    key: {
      type: 'string',
      pattern: '^/',
      nullable: true,
      description: 'The etcd key, beginning with /. Required unless the target has a plugin or Docker data.',
    },
    plugin: {
      type: 'string',
      minLength: 1,
      nullable: true,
      description: 'A JS module (absolute, or relative to cfgdir) whose get(context) gives the template `plugin`.',
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
      description: 'Give the template `containers`: the running containers (Docker Engine API), optionally filtered by label or name.',
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
      description: 'After the file changed, signal (or restart) the containers that match the filters.',
    },
    interval: {
      type: 'string',
      pattern: DURATION_PATTERN,
      nullable: true,
      description: 'For a plugin target with no key: re-run the plugin and re-render this often.',
    },
    recursive: {
      type: 'boolean',
      default: false,
      description: 'Watch every key under key/ (a directory) instead of the one key.',
    },
    checkcmd: {
      type: 'string',
      minLength: 1,
      nullable: true,
      description: 'Run against the staged file before it is swapped in; {{src}} is its path.',
    },
    reloadcmd: {
      type: 'string',
      minLength: 1,
      nullable: true,
      description: 'Run after the file changed.',
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
      description: 'Instead of reloadcmd: send `signal` (default SIGHUP) to the process whose id is in `pidfile`.',
    },
    mode: {
      type: 'string',
      pattern: '^0?[0-7]{3}$',
      nullable: true,
      description: 'Octal file mode such as "0644". Default: keep the existing mode, else 0644.',
    },
    // JSONSchemaType cannot express string|integer unions; the shared fragment is checked by ajv at run time.
    owner: { ...nameOrId, description: 'User name or uid of the file.' } as never,
    group: { ...nameOrId, description: 'Group name or gid of the file.' } as never,
    timeout: {
      type: 'string',
      pattern: DURATION_PATTERN,
      default: '60s',
      description: 'Time limit for checkcmd and reloadcmd, such as "30s".',
    },
    minkeys: {
      type: 'integer',
      minimum: 0,
      nullable: true,
      description: 'Hold the target (leave it untouched, log an error) while its data has fewer keys than this.',
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
      description: 'Debounce: apply once changes have been quiet for min, but no later than max (default 4 x min).',
    },
    multiline: {
      type: 'boolean',
      default: false,
      description:
        'Allow values holding line breaks and other control characters (PEM certificates). Without it such a value fails the render.',
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

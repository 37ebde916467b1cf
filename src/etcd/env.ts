/** The variable an etcd password comes from, out of argv (its own module: the CLI's help names it without loading the etcd code). */
export const PASSWORD_ENV = 'RECONFIG_ETCD_PASSWORD';

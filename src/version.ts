/** reconfig's version, from package.json: read at run time rather than imported, so the build layout stays src/ -> dist/src/. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const { version } = require('../../package.json') as { version: string };

/**
 * The executable's main script when it is built with --snapshot (a V8 startup snapshot instead of the code
 * cache): Node runs this at build time and saves the heap; each start then restores that heap and runs the
 * function below. What is required here, before the snapshot is taken, starts already loaded; the CLI itself
 * is required only at run time, since it reads argv and the environment as it loads.
 *
 * Measured (2026-12-01, 21 paired runs on a loaded 2-core machine): with commander, ejs and yaml in the
 * snapshot it is 1.13x slower than the code cache for both `--version` and `validate`, since the rest of the
 * script then compiles from source at each start. So the default build uses the code cache.
 */
import v8 from 'node:v8';

// Only modules that need none of the built-ins Node cannot yet snapshot (net, tls, http2, child_process,
// worker_threads, ...) and read nothing of the process at load.
/* eslint-disable @typescript-eslint/no-require-imports -- each is loaded for its effect: being in the heap */
require('commander');
require('ejs');
require('yaml');
/* eslint-enable @typescript-eslint/no-require-imports */

v8.startupSnapshot.setDeserializeMainFunction(() => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../../src/cli');
});

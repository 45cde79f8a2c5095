/**
 * Where the kernel pool's modules lie, apart from the pool itself (which loads the kernels):
 * the supervisor, which grants a trainer Worker read access to them, imports only this.
 *
 * @module
 */

/** The module each kernel pool thread runs. */
export const POOL_WORKER_URL = new URL("./pool_worker.ts", import.meta.url);

/** The kernel pool's modules, which a Worker starting it must be allowed to read. */
export const KERNEL_POOL_MODULES: readonly URL[] = [
  POOL_WORKER_URL,
  new URL("./pool_layout.ts", import.meta.url),
  new URL("./kernels_wasm.ts", import.meta.url),
  new URL("./kernels.ts", import.meta.url),
];

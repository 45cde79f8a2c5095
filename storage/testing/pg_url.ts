/**
 * The PostgreSQL URL for tests: `ANNEAL_TEST_PG_URL` when set, otherwise a throwaway cluster
 * started by `tools/pg_test_server.sh start` (reused across test files; stop it with
 * `tools/pg_test_server.sh stop`). Fails loudly when no server can be started: the postgres tests
 * are never skipped.
 *
 * @module
 */

/** Returns a connection URL of a running test PostgreSQL server, starting one if needed. */
export async function testPostgresUrl(): Promise<string> {
  const fromEnv = Deno.env.get("ANNEAL_TEST_PG_URL");
  if (fromEnv) return fromEnv;
  const script = new URL("../../tools/pg_test_server.sh", import.meta.url).pathname;
  const output = await new Deno.Command("bash", { args: [script, "start"] }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const match = stdout.match(/ANNEAL_TEST_PG_URL=(\S+)/);
  if (!output.success || !match) {
    throw new Error(
      `Cannot start a test PostgreSQL server with ${script} (exit ${output.code}):\n` +
        new TextDecoder().decode(output.stderr) +
        "\nset ANNEAL_TEST_PG_URL to a server's URL, or apt-get install postgresql",
    );
  }
  return match[1];
}

import { registerStorageConformance } from "./conformance.ts";
import { openSqliteStorage } from "./sqlite.ts";

const dir = Deno.makeTempDirSync({ prefix: "anneal_sqlite_test_" });
const path = `${dir}/studies.db`;
registerStorageConformance("sqlite", {
  open: () => Promise.resolve(openSqliteStorage(path)),
  url: `sqlite:${path}`,
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

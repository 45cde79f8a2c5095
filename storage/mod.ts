/**
 * Study storage for sweeps: one interface ({@linkcode StudyStorage}), a SQLite file for one
 * machine, PostgreSQL for many, and {@linkcode openStorage} to pick one from a URL.
 *
 * @module
 */
import { AnnealError } from "../errors.ts";
import { closestOption } from "../issue_text.ts";
import { openSqliteStorage } from "./sqlite.ts";
import { redactedUrl } from "./_common.ts";
import type { OpenStorageOptions, StudyStorage } from "./types.ts";
import type { openPostgresStorage as postgresStorage } from "./postgres.ts";

export type * from "./types.ts";
export { openSqliteStorage } from "./sqlite.ts";

/**
 * Opens study storage on PostgreSQL (see `./postgres.ts`). The driver is loaded at the first call,
 * not with this module: every `anneal` command and `import "mod.ts"` loads this module, and most
 * never open PostgreSQL (the driver took ~11 ms of each start).
 */
export async function openPostgresStorage(
  url: string,
  options: Parameters<typeof postgresStorage>[1] = {},
): Promise<StudyStorage> {
  const { openPostgresStorage: open } = await import("./postgres.ts");
  return await open(url, options);
}

/**
 * Opens study storage from a URL: `postgres://...` / `postgresql://...` for PostgreSQL,
 * `sqlite:PATH` or a plain file path (`sweeps.db`) for SQLite. It is created where missing,
 * unless `options.create` is false (to join a study that must be there already). SQLAlchemy's
 * form, which Optuna's `--storage` takes, means the same file: `sqlite:///sweeps.db` is
 * `sweeps.db` in the working directory and `sqlite:////srv/sweeps.db` is `/srv/sweeps.db`; a
 * host (`sqlite://sweeps.db`) is refused, as SQLite has none.
 *
 * @example
 * ```ts
 * import { openStorage } from "./mod.ts";
 * const storage = await openStorage("sqlite::memory:");
 * const study = await storage.createStudy("demo", "maximize", {});
 * console.assert(study.direction === "maximize");
 * await storage.close();
 * ```
 */
export async function openStorage(
  url: string,
  options: OpenStorageOptions = {},
): Promise<StudyStorage> {
  if (typeof url !== "string") {
    // (a TypeError came out of url.startsWith)
    throw new AnnealError(
      "usage",
      `Cannot open study storage: its URL must be a string, current value is ${
        JSON.stringify(url) ?? String(url)
      }`,
      { hint: "use postgres://user@host:port/db, sqlite:PATH or a file path such as sweeps.db" },
    );
  }
  if (/^postgres(ql)?:\/\//.test(url)) return await openPostgresStorage(url, options);
  const path = url.startsWith("sqlite:") ? sqlitePath(url) : url;
  const scheme = path.match(/^([a-z][a-z0-9+.-]*):\/\//i)?.[1];
  if (path === "" || scheme !== undefined) {
    // (its password, as the storages print their URLs: `postgress://ann:***@db/x`)
    const shown = redactedUrl(url);
    // (`postgress://`: the kind it likely meant, said with the URL written so)
    const meant = scheme === undefined
      ? undefined
      : closestOption(scheme, ["postgres", "postgresql", "sqlite"]);
    const kind = path === ""
      ? `no file path${url === "" ? "" : " after 'sqlite:'"}`
      : `unknown kind '${scheme}://'${meant === undefined ? "" : ` (did you mean '${meant}://'?)`}`;
    throw new AnnealError("usage", `Cannot open study storage '${shown}': ${kind}`, {
      hint: meant === "postgres" || meant === "postgresql"
        ? `write it ${meant}://${shown.slice(shown.indexOf("://") + 3)}`
        : "use postgres://user@host:port/db, sqlite:PATH or a file path such as sweeps.db",
    });
  }
  return openSqliteStorage(path, options);
}

/**
 * The file path of a `sqlite:` URL. `sqlite:PATH` is PATH as written (`sqlite:/srv/x.db` absolute,
 * `sqlite:x.db` relative, `sqlite::memory:`); after `sqlite://` comes SQLAlchemy's authority,
 * which must be empty, then `/` and the path: `sqlite:///x.db` is `x.db` (relative, as Optuna and
 * SQLAlchemy read it) and `sqlite:////srv/x.db` is `/srv/x.db`. Read as a plain path, the first
 * would have opened `/x.db`.
 */
function sqlitePath(url: string): string {
  const rest = url.slice("sqlite:".length);
  if (!rest.startsWith("//")) return rest;
  const authority = rest.slice(2).split("/", 1)[0];
  const path = rest.slice(2 + authority.length + 1);
  if (authority === "" && path !== "") return path;
  const file = authority === "" ? "sweeps.db" : rest.slice(2);
  const what = authority === ""
    ? "no file path after 'sqlite:///'"
    : `'${authority}' stands where a URL names a host, and a SQLite file has none`;
  throw new AnnealError("usage", `Cannot open study storage '${url}': ${what}`, {
    hint: `write sqlite:${file} or sqlite:///${file} (Optuna's form) for ${file} in the ` +
      `working directory, sqlite:/srv/${file} or sqlite:////srv/${file} for an absolute path`,
  });
}

import assert from "node:assert/strict";
import { fileError, type FileErrorContext } from "./file_errors.ts";

/** The error `body` throws, as fileError describes it. */
async function described(body: () => Promise<unknown>, context = {}) {
  try {
    await body();
  } catch (error) {
    return fileError(error, context);
  }
  throw new Error("expected a throw");
}

Deno.test("fileError names the path, why it failed and a fix, for each kind of file-system error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-file-errors-" });
  try {
    const file = `${dir}/file`;
    await Deno.writeTextFile(file, "");
    const cases: [() => Promise<unknown>, RegExp, RegExp, FileErrorContext?][] = [
      [
        () => Deno.readTextFile(`${dir}/missing.json`),
        /^Cannot read '.*\/missing\.json': no such file or directory$/,
        /check the path/,
      ],
      [
        () => Deno.writeTextFile(`${dir}/a/b/out.html`, ""),
        new RegExp(`^Cannot write '.*/out\\.html': the directory '${dir}/a/b' does not exist$`),
        new RegExp(`mkdir -p '${dir}/a/b'`),
      ],
      [
        () => Deno.mkdir(`${file}/sub/deeper`, { recursive: true }),
        new RegExp(
          `^Cannot create the directory '.*/deeper': '${file}' is a file, not a directory$`,
        ),
        new RegExp(`a directory is expected at '${file}'`),
      ],
      [
        () => Deno.mkdir(file, { recursive: true }),
        /: it is a file, not a directory$/,
        /move the file away/,
      ],
      [
        () => Deno.writeTextFile(`${file}/x.svg`, ""),
        new RegExp(`'${file}' is a file, not a directory$`),
        /move the file/,
        // Deno names no path in a failed write's message under a listed --allow-write (only
        // under --allow-all): the callers pass the path they wrote, as here
        { path: `${file}/x.svg` },
      ],
      [() => Deno.readTextFile(dir), /: it is a directory, not a file$/, /path of a file/],
    ];
    for (const [body, message, hint, context] of cases) {
      const error = await described(body, context);
      assert.equal(error?.code, "file");
      assert.match(error!.message, message);
      assert.match(error!.hint ?? "", hint);
    }
    const withContext = await described(() => Deno.readTextFile(`${dir}/s.json`), {
      action: "read the --scheduler file",
      expected: "a readable JSON file",
      hint: "give the JSON itself",
    });
    assert.match(
      withContext!.message,
      /^Cannot read the --scheduler file '.*\/s\.json': no such file or directory \(expected a readable JSON file\)$/,
    );
    assert.equal(withContext!.hint, "give the JSON itself");
    assert.equal(fileError(new Error("not a file-system error")), undefined);
    assert.equal(fileError("a string"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileError names a symbolic link that points to nothing on the path, and how to fix it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-file-errors-" });
  try {
    const link = `${dir}/runs`;
    await Deno.symlink("gone", link);
    // (mkdir -p through it said 'it already exists' of a directory that was not there)
    const made = await described(() => Deno.mkdir(`${link}/run-1`, { recursive: true }), {
      hint: "point --runs-dir at a directory",
    });
    assert.equal(
      made?.message,
      `Cannot create the directory '${link}/run-1': '${link}' is a symbolic link to ` +
        `'${dir}/gone', which does not exist`,
    );
    assert.match(made!.hint ?? "", new RegExp(`mkdir -p '${dir}/gone'.*rm '${link}'`));
    const written = await described(() => Deno.writeTextFile(`${link}/out.html`, ""));
    assert.match(written!.message, /'.*\/runs' is a symbolic link to '.*\/gone', which does not/);
    // a file to read is not made by a mkdir: the link is to be pointed elsewhere
    const read = await described(() => Deno.readTextFile(`${link}/config.json`));
    assert.match(read!.message, /symbolic link to '.*\/gone', which does not exist$/);
    assert.match(read!.hint ?? "", new RegExp(`ln -sfn TARGET '${link}'`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileError says a leading '~' is not expanded, where it said to create a directory named '~'", async () => {
  const written = await described(() => Deno.writeTextFile("~/no-such-anneal-dir/r.html", ""), {
    path: "~/no-such-anneal-dir/r.html",
  });
  assert.match(written!.message, /: no such file or directory: a leading '~' is not expanded/);
  assert.equal(written!.hint, "write the home directory out (/home/me/x for ~/x)");
  const read = await described(() => Deno.readTextFile("~/x.json"), { hint: "check the path" });
  assert.match(read!.message, /a leading '~' is not expanded here/);
  assert.doesNotMatch(read!.hint ?? "", /check the path/);
  const variable = await described(() => Deno.readTextFile("${HOME}/x.json"));
  assert.match(variable!.message, /: no such file or directory: '\$\{HOME\}' is not expanded/);
  assert.equal(variable!.hint, 'write the variable\'s value out (echo "${HOME}" prints it)');
});

Deno.test("fileError says a path or a name of it is too long for the file system, not that anneal has a bug", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-file-errors-" });
  try {
    const name = "n".repeat(300);
    // (the path as anneal's callers give it: under the suite's listed --allow-read, Deno's message
    // names no path, refused by its permission check before the read)
    const read = await described(() => Deno.readTextFile(`${dir}/${name}.json`), {
      hint: "check the path",
      path: `${dir}/${name}.json`,
    });
    assert.equal(read?.code, "file");
    assert.match(
      read!.message,
      /: its name 'n{24}\.\.\.' is too long for the file system \(305 bytes; 255 at most\)$/,
    );
    assert.equal(read!.hint, "choose a shorter path");
    const deep = `${dir}/${Array(30).fill("d".repeat(200)).join("/")}`;
    const made = await described(() => Deno.mkdir(deep, { recursive: true }), { path: deep });
    assert.match(made!.message, /: the path is too long for the file system \(\d+ bytes\)$/);
    // with no path to name (Deno's message without it, no caller's): still too long, not a bug
    const bare = fileError(Object.assign(new Error("File name too long (os error 36)"), {
      code: "ENAMETOOLONG",
    }));
    assert.equal(
      bare?.message,
      "Cannot use: the path or a name in it is too long for the file system",
    );
    assert.equal(bare?.hint, "choose a shorter path");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileError says a read-only or full file system is at fault, not the path, and names the directory to look at", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-file-errors-" });
  try {
    // as Deno raises them: a plain Error with the OS's code (seen on a read-only tmpfs and a full one)
    const readOnly = Object.assign(
      new Error(`Read-only file system (os error 30): mkdir '${dir}/runs/run-1/checkpoints'`),
      { code: "EROFS" },
    );
    const hint = "point --runs-dir at a directory, or move the file in the way";
    const refused = fileError(readOnly, { action: "create the directory", hint })!;
    assert.equal(refused.code, "file");
    assert.equal(
      refused.message,
      `Cannot create the directory '${dir}/runs/run-1/checkpoints': the file system is read-only`,
    );
    assert.equal(
      refused.hint,
      `choose a path on a writable file system (the one that holds '${dir}' is mounted read-only)`,
      "the caller's hint is about the path, which is not at fault",
    );
    const full = Object.assign(
      new Error(`No space left on device (os error 28): writefile '${dir}/report.html'`),
      { code: "ENOSPC" },
    );
    const described = fileError(full)!;
    assert.equal(described.message, `Cannot write '${dir}/report.html': no space left on its disk`);
    assert.match(described.hint!, new RegExp(`df -h '${dir}'`));
    assert.equal(fileError(Object.assign(new Error("other"), { code: "EIO" })), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileError says a path under /dev, /proc or /sys needs --allow-all, not that anneal has a bug", () => {
  // as Deno raises it for such a path, whatever --allow-read and --allow-write grant
  const refused = new Deno.errors.NotCapable(
    'Requires all access to "/dev/shm/runs/run-1", run again with the --allow-all flag',
  );
  const described = fileError(refused, { action: "create the directory" })!;
  assert.equal(described.code, "file");
  assert.equal(described.where, "/dev/shm/runs/run-1");
  assert.match(
    described.message,
    /^Cannot create the directory '\/dev\/shm\/runs\/run-1': Deno lets a program use paths under \/dev, \/proc and \/sys only when it runs with --allow-all/,
  );
  assert.match(described.hint!, /\/tmp in place of \/dev\/shm/);
  assert.match(described.hint!, /deno run -A --unstable-worker-options cli\/main\.ts/);
  // other refusals stay Deno's own: a narrowed actor probing outside its grant is no user path
  const narrowed = new Deno.errors.NotCapable(
    'Requires read access to "/etc/x", run again with the --allow-read flag',
  );
  assert.equal(fileError(narrowed), undefined);
});

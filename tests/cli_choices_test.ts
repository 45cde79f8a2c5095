import assert from "node:assert/strict";
import { anneal, annealCommand, tempRunsDir } from "./_helpers.ts";

/**
 * A value of a flag that takes one of a fixed set, refused as anneal's other usage errors are:
 * `error[usage]:` naming the flag, its values and the value given, the value meant, exit 2.
 */
async function assertChoiceRefused(
  args: string[],
  expected: { message: string; hint: string },
): Promise<void> {
  const out = await anneal(...args);
  const shown = `anneal ${args.join(" ")}`;
  assert.equal(out.code, 2, `${shown}: ${out.stderr}`);
  assert.equal(
    out.stderr,
    `error[usage]: ${expected.message}\n  hint: ${expected.hint}\n`,
    shown,
  );
}

Deno.test("a flag's value not among its choices names the flag, its values, the value given and the one meant", async () => {
  await using runs = await tempRunsDir();
  const cases: [string[], { message: string; hint: string }][] = [
    [["sweep", "--sampler", "tpee"], {
      message:
        "--sampler must be one of grid, random, quasiRandom, tpe (did you mean 'tpe'?), current value is 'tpee'",
      hint: "give --sampler tpe",
    }],
    [["sweep", "--pruner=medain"], {
      message:
        "--pruner must be one of none, median, asha, hyperband (did you mean 'median'?), current value is 'medain'",
      hint: "give --pruner median",
    }],
    // (nothing close: the values alone, and one to give)
    [["sweep", "--pruner", "xyz"], {
      message: "--pruner must be one of none, median, asha, hyperband, current value is 'xyz'",
      hint: "give one of them, e.g. --pruner none",
    }],
    // (a name from elsewhere, as the config's backend field reads it: gpu is webgpu)
    [["train", "-b", "gpu"], {
      message:
        "--backend must be one of auto, webgpu, wasm, cpu (did you mean 'webgpu'?), current value is 'gpu'",
      hint: "give --backend webgpu",
    }],
    [["lr-find", "--mode", "linar"], {
      message:
        "--mode must be one of exponential, linear (did you mean 'linear'?), current value is 'linar'",
      hint: "give --mode linear",
    }],
    [["lr-find", "--schedule", "onecylce"], {
      message:
        "--schedule must be one of onecycle, warmupCosine (did you mean 'onecycle'?), current value is 'onecylce'",
      hint: "give --schedule onecycle",
    }],
    // (refused before the run is looked for: there is none in this runs directory)
    [["report", "last", "--plot", "los", "--runs-dir", runs.dir], {
      message:
        "--plot must be one of loss, metrics, lr, gradNorm, lrFind (did you mean 'loss'?), current value is 'los'",
      hint: "give --plot loss",
    }],
    [["completions", "bsh"], {
      message:
        "The <shell> of anneal completions must be one of bash, zsh, fish (did you mean 'bash'?), current value is 'bsh'",
      hint: "run anneal completions bash",
    }],
  ];
  for (const [args, expected] of cases) await assertChoiceRefused(args, expected);
});

Deno.test("a flag's value not among its choices, with --json, is also the error line on stdout", async () => {
  const out = await anneal("train", "--json", "--backend", "wsam");
  assert.equal(out.code, 2, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), {
    type: "error",
    error: {
      code: "usage",
      message:
        "--backend must be one of auto, webgpu, wasm, cpu (did you mean 'wasm'?), current value is 'wsam'",
      hint: "give --backend wasm",
    },
  });
});

Deno.test("a flag that takes one of a fixed set still lists its values in --help", async () => {
  const out = await anneal("sweep", "--help");
  assert.equal(out.code, 0, out.stderr);
  assert.match(
    out.stdout,
    /--sampler <name> +sampler \(default: the config's sweep\.sampler, else\s+tpe; tpe draws its\s+first 10 trials at random,[^)]*\) \(choices:\s+"grid", "random", "quasiRandom", "tpe"\)/,
  );
});

Deno.test("a --storage URL whose kind is misspelled names the kind meant and the URL written so", async () => {
  const out = await anneal("worker", "--storage", "postgress://anneal@db/anneal", "--study", "s");
  assert.equal(out.code, 2, out.stderr);
  assert.equal(
    out.stderr,
    "error[usage]: Cannot open study storage 'postgress://anneal@db/anneal': unknown kind " +
      "'postgress://' (did you mean 'postgres://'?)\n  hint: write it postgres://anneal@db/anneal\n",
  );
  // its password is not printed (it was, twice)
  const secret = await anneal("worker", "--storage", "postgress://ann:secret@db/x", "--study", "s");
  assert.equal(
    secret.stderr,
    "error[usage]: Cannot open study storage 'postgress://ann:***@db/x': unknown kind " +
      "'postgress://' (did you mean 'postgres://'?)\n  hint: write it postgres://ann:***@db/x\n",
  );
  const empty = await anneal("worker", "--storage", "sqlite:", "--study", "s");
  assert.equal(empty.code, 2, empty.stderr);
  assert.match(empty.stderr, /Cannot open study storage 'sqlite:': no file path after 'sqlite:'/);
});

Deno.test("a sqlite:/// URL (SQLAlchemy's and Optuna's form) names a file in the working directory, and a sqlite:// URL with a host is refused with the forms meant", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal_sqlite_url_" });
  try {
    const run = async (storage: string) => {
      const output = await annealCommand(
        ["worker", "--storage", storage, "--study", "s"],
        undefined,
        dir,
      )
        .output();
      return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
    };
    // (read as a plain path, sqlite:///x.db was /x.db; a worker creates no file, so the error names it)
    const relative = await run("sqlite:///x.db");
    assert.equal(relative.code, 1, relative.stderr);
    assert.match(
      relative.stderr,
      /the database file x\.db does not exist, so it holds no study \(at sqlite:x\.db\)/,
    );
    const absolute = await run(`sqlite:///${dir}/y.db`);
    assert.match(absolute.stderr, new RegExp(`the database file ${dir}/y\\.db does not exist`));
    const host = await run("sqlite://x.db");
    assert.equal(host.code, 2, host.stderr);
    assert.equal(
      host.stderr,
      "error[usage]: Cannot open study storage 'sqlite://x.db': 'x.db' stands where a URL names a " +
        "host, and a SQLite file has none\n  hint: write sqlite:x.db or sqlite:///x.db (Optuna's " +
        "form) for x.db in the working directory, sqlite:/srv/x.db or sqlite:////srv/x.db for an " +
        "absolute path\n",
    );
    assert.match((await run("sqlite:///")).stderr, /no file path after 'sqlite:\/\/\/'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * PyTorch 1.13 for the tests that run it live (tests/torch/*.py, JSON in and out): the first
 * python3 with torch, `ANNEAL_TORCH_PYTHON` if set, else the one on PATH, else Debian's
 * /usr/bin/python3, where python3-torch installs it (tools/test.sh installs it with apt when
 * missing). A test that needs it fails when there is none: it is never skipped. Also what the
 * live tests and the fixture's (tests/torch_training_test.ts) read and assert alike.
 *
 * @module
 */
import assert from "node:assert/strict";

/** Where torch is, or why none was found. */
async function findPython(): Promise<string> {
  const named = Deno.env.get("ANNEAL_TORCH_PYTHON");
  const candidates = named ? [named] : ["python3", "/usr/bin/python3"];
  for (const python of candidates) {
    try {
      const probe = await new Deno.Command(python, {
        args: ["-c", "import torch; print(torch.__version__)"],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (probe.success) return python;
    } catch {
      // not installed: the next one
    }
  }
  throw new Error(
    `no python3 with PyTorch found (tried ${candidates.join(", ")}): install Debian's ` +
      "python3-torch (1.13; `deno task test` does so with apt when it is missing), or name a " +
      "python3 that has torch 1.13 in ANNEAL_TORCH_PYTHON",
  );
}

let python: Promise<string> | undefined;

/**
 * Asserts that anneal's run ended where torch's loss overflowed, at step `overflow` (`loss`):
 * torch's loop trains on, anneal's stops the run there (clipping.onNonFinite, stop by default),
 * as diverged and no more than a step past it (`steps` taken).
 */
export function assertDivergedAt(
  status: string,
  steps: number,
  overflow: number,
  loss: unknown,
): void {
  assert.equal(status, "diverged", `torch's loss is ${loss} at step ${overflow}`);
  assert.ok(steps <= overflow + 1, `steps taken: ${steps}, torch's loss overflows at ${overflow}`);
}

/**
 * That anneal's run stopped, diverged, at the step `exploded` whose loss (torch's `loss`, still
 * finite) exploded: 100x its early level, as its watch judges it (README, "a diverging run
 * stops"); the step itself taken and recorded, none after it.
 */
export function assertExplodedAt(
  result: { status: string; reason: string },
  steps: number,
  exploded: number,
  loss: unknown,
): void {
  assert.equal(result.status, "diverged", `torch's loss exploded to ${loss} at step ${exploded}`);
  assert.match(result.reason, new RegExp(`^training diverged at step ${exploded}: .*exploded to`));
  assert.equal(steps, exploded + 1, `steps taken: ${steps}, torch's loss exploded at ${exploded}`);
}

/** A JSON number from python: a non-finite one comes as its name ("nan", "inf", "-inf"). */
export type PyNumber = number | "nan" | "inf" | "-inf";

/** The number a {@linkcode PyNumber} stands for. */
export function fromPy(value: PyNumber): number {
  if (typeof value === "number") return value;
  return value === "nan" ? NaN : value === "inf" ? Infinity : -Infinity;
}

/**
 * Runs `tests/torch/<script>` on `input` (JSON on its stdin) and returns what it writes on its
 * stdout, parsed; throws with its stderr where it fails, or where its torch is not 1.13.
 */
export async function runTorch<T extends { torch: string }>(
  script: string,
  input: unknown,
): Promise<T> {
  python ??= findPython();
  const child = new Deno.Command(await python, {
    args: [new URL(script, import.meta.url).pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { OMP_NUM_THREADS: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(input)));
  await writer.close();
  const { success, stdout, stderr } = await child.output();
  if (!success) {
    throw new Error(`tests/torch/${script} failed:\n${new TextDecoder().decode(stderr)}`);
  }
  const output = JSON.parse(new TextDecoder().decode(stdout)) as T;
  if (!output.torch.startsWith("1.13")) {
    throw new Error(
      `tests/torch/${script} ran torch ${output.torch}, not 1.13, whose semantics anneal follows`,
    );
  }
  return output;
}

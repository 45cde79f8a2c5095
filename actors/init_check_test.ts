/**
 * The actors' `Init` check against the schema that declares the message: on valid messages and
 * on messages with one field changed to anything (drawn), both accept or both refuse.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { initProblem } from "./init_check.ts";
import { InitSchema } from "./protocol.ts";

/** Values a field may be changed to: of every kind zod and the check tell apart. */
function oddValue(port: MessagePort): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.anything({ withMap: true, withSet: true, withNullPrototype: true, withDate: true }),
    fc.constantFrom(
      NaN,
      Infinity,
      -Infinity,
      -0,
      0,
      -1,
      1,
      "",
      "worker",
      "Init",
      "trainer",
      null,
      undefined,
      true,
      port,
      [port],
      { trainer: port },
      { trainer: port, scheduler: 3 },
      new Map([["trainer", port]]),
      new (class Ports {
        trainer = port;
      })(),
      { description: "d", vendor: "v", isFallbackAdapter: false },
      { description: "d", vendor: 1, isFallbackAdapter: false },
    ),
  );
}

/** Valid faults of every kind (what the tests inject). */
const fault = fc.oneof(
  fc.record({ kind: fc.constantFrom("throw", "stall"), at: fc.string() }),
  fc.record({
    kind: fc.constant("emit"),
    at: fc.string(),
    event: fc.dictionary(fc.string(), fc.jsonValue()),
  }),
  fc.record({
    kind: fc.constant("delay"),
    at: fc.string(),
    ms: fc.double({ min: 0, max: 1e6, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant("silent"),
    at: fc.constant("worker"),
    ms: fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant("touch"),
    at: fc.string(),
    path: fc.string(),
    access: fc.constantFrom("read", "write"),
  }),
);

function validInit(port: MessagePort): fc.Arbitrary<Record<string, unknown>> {
  return fc.record({
    type: fc.constant("Init"),
    actor: fc.constantFrom("dataLoader", "trainer", "scheduler", "earlyStopper", "clipMonitor"),
    runId: fc.string(),
    runDir: fc.string(),
    config: fc.jsonValue(),
    ports: fc.constantFrom({}, { trainer: port }, { scheduler: port, clipMonitor: port }),
    resume: fc.option(fc.jsonValue(), { nil: undefined }),
    adapter: fc.option(
      fc.record({ description: fc.string(), vendor: fc.string(), isFallbackAdapter: fc.boolean() }),
      { nil: undefined },
    ),
    keepDevice: fc.option(fc.boolean(), { nil: undefined }),
    epochGate: fc.option(fc.boolean(), { nil: undefined }),
    fault: fc.option(fault, { nil: undefined }),
  }, { requiredKeys: ["type", "actor", "runId", "runDir", "config", "ports"] });
}

/** Where a changed value goes: a field of the message, of its adapter or of its fault. */
const FIELDS = [
  "type",
  "actor",
  "runId",
  "runDir",
  "config",
  "ports",
  "resume",
  "adapter",
  "keepDevice",
  "epochGate",
  "fault",
  "adapter.description",
  "adapter.vendor",
  "adapter.isFallbackAdapter",
  "fault.kind",
  "fault.at",
  "fault.ms",
  "fault.event",
  "fault.path",
  "fault.access",
  "ports.trainer",
];

function changed(init: Record<string, unknown>, path: string, value: unknown, drop: boolean) {
  const message = structuredClone({ ...init, ports: {} });
  message.ports = { ...(init.ports as object) };
  const [head, tail] = path.split(".");
  let holder = message as Record<string, unknown>;
  if (tail !== undefined) {
    if (typeof holder[head] !== "object" || holder[head] === null) holder[head] = {};
    holder = holder[head] as Record<string, unknown>;
  }
  const key = tail ?? head;
  if (drop) delete holder[key];
  else holder[key] = value;
  return message;
}

Deno.test("the actors' Init check accepts what InitSchema accepts, and refuses what it refuses", () => {
  const { port1, port2 } = new MessageChannel();
  try {
    fc.assert(
      fc.property(validInit(port1), (init) => {
        assert.equal(InitSchema.safeParse(init).success, true);
        assert.equal(initProblem(init), undefined);
      }),
      { numRuns: 500 },
    );
    let refused = 0;
    fc.assert(
      fc.property(
        validInit(port1),
        fc.constantFrom(...FIELDS),
        oddValue(port1),
        fc.boolean(),
        (init, path, value, drop) => {
          const message = changed(init, path, value, drop);
          const accepted = InitSchema.safeParse(message).success;
          const problem = initProblem(message);
          assert.equal(
            problem === undefined,
            accepted,
            `${path} ${drop ? "dropped" : "set"}: schema ${accepted ? "accepts" : "refuses"}, ` +
              `the check says ${problem ?? "nothing"}`,
          );
          if (!accepted) refused++;
        },
      ),
      { numRuns: 4000 },
    );
    // (a property that never met a refused message would show nothing)
    assert.ok(refused > 1000, `only ${refused} of 4000 changed messages were refused`);
  } finally {
    port1.close();
    port2.close();
  }
});

Deno.test("the actors' Init check names the field at fault", () => {
  const { port1, port2 } = new MessageChannel();
  try {
    const init = {
      type: "Init",
      actor: "scheduler",
      runId: "r",
      runDir: "/tmp/r",
      config: {},
      ports: { trainer: port1 },
    };
    assert.equal(initProblem(init), undefined);
    assert.equal(initProblem(null), "it is not an object");
    assert.match(
      initProblem({ ...init, actor: "judge" }) ?? "",
      /^'actor' must be one of dataLoader, /,
    );
    assert.equal(initProblem({ ...init, runDir: undefined }), "'runDir' must be a string");
    const { config: _, ...noConfig } = init;
    assert.equal(initProblem(noConfig), "'config' is missing");
    assert.equal(
      initProblem({ ...init, ports: { trainer: {} } }),
      "'ports.trainer' must be a MessagePort",
    );
    assert.equal(
      initProblem({ ...init, adapter: { description: "llvmpipe", vendor: "mesa" } }),
      "'adapter.isFallbackAdapter' must be a boolean",
    );
    assert.equal(
      initProblem({ ...init, fault: { kind: "delay", at: "epoch", ms: Infinity } }),
      "'fault': 'ms' must be a finite number, 0 or more",
    );
    assert.equal(
      initProblem({ ...init, fault: { kind: "silent", at: "epoch", ms: 5 } }),
      "'fault': 'at' must be \"worker\"",
    );
  } finally {
    port1.close();
    port2.close();
  }
});

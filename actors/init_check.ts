/**
 * The check an actor's Worker makes of the `Init` it is sent, without zod: `InitSchema` in
 * protocol.ts declares the message (and its type), and this check accepts what it accepts
 * (`init_check_test.ts` holds the two to that, on generated messages). An actor's Worker that
 * imported zod and built the protocol's schemas for this one check spent ~75 ms of CPU on it at
 * every start, five Workers a run (BENCHMARKS.md, "Forty-fourth session").
 *
 * @module
 */
import { ACTOR_NAMES } from "./actor_names.ts";

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * An object a record's schema takes: a plain one (made by `{}`, or with no prototype), not a
 * `Map`, an array or a class's instance. As zod tells them apart: by the prototype of the
 * object's `constructor`, where that is a function.
 */
function isRecord(value: unknown): value is Fields {
  if (!isObject(value)) return false;
  const maker = value.constructor;
  if (typeof maker !== "function") return true;
  const prototype: unknown = maker.prototype;
  return isObject(prototype) && Object.hasOwn(prototype, "isPrototypeOf");
}

/**
 * What is wrong with `message` as an `Init` (the first problem, named by its field), or
 * undefined when `InitSchema` would accept it. Fields it does not declare are ignored, as the
 * schema strips them.
 *
 * @example
 * ```ts
 * import { initProblem } from "./init_check.ts";
 * const init = { type: "Init", actor: "trainer", runId: "r", runDir: "/tmp/r", config: {}, ports: {} };
 * console.assert(initProblem(init) === undefined);
 * console.assert(initProblem({ ...init, runId: 7 }) === "'runId' must be a string");
 * ```
 */
export function initProblem(message: unknown): string | undefined {
  if (!isObject(message)) return "it is not an object";
  if (message.type !== "Init") return "'type' must be \"Init\"";
  if (!(ACTOR_NAMES as readonly unknown[]).includes(message.actor)) {
    return `'actor' must be one of ${ACTOR_NAMES.join(", ")}`;
  }
  for (const field of ["runId", "runDir"]) {
    if (typeof message[field] !== "string") return `'${field}' must be a string`;
  }
  if (!("config" in message)) return "'config' is missing";
  if (!isRecord(message.ports)) return "'ports' must be an object of MessagePorts";
  for (const [peer, port] of Object.entries(message.ports)) {
    if (!(port instanceof MessagePort)) return `'ports.${peer}' must be a MessagePort`;
  }
  const adapter = message.adapter;
  if (adapter !== undefined && adapter !== null) {
    if (!isObject(adapter)) return "'adapter' must be an object, null or absent";
    for (const field of ["description", "vendor"]) {
      if (typeof adapter[field] !== "string") return `'adapter.${field}' must be a string`;
    }
    if (typeof adapter.isFallbackAdapter !== "boolean") {
      return "'adapter.isFallbackAdapter' must be a boolean";
    }
  }
  for (const field of ["keepDevice", "epochGate"]) {
    if (message[field] !== undefined && typeof message[field] !== "boolean") {
      return `'${field}' must be a boolean or absent`;
    }
  }
  return message.fault === undefined ? undefined : faultProblem(message.fault);
}

/** The problem of a test's fault injection, as `InitSchema`'s union of fault kinds sees it. */
function faultProblem(fault: unknown): string | undefined {
  if (!isObject(fault)) return "'fault' must be an object or absent";
  const at = typeof fault.at === "string";
  const problem = (() => {
    switch (fault.kind) {
      case "throw":
      case "stall":
        return at ? undefined : "'at' must be a string";
      case "emit":
        if (!at) return "'at' must be a string";
        return isRecord(fault.event) ? undefined : "'event' must be an object";
      case "delay":
        if (!at) return "'at' must be a string";
        return Number.isFinite(fault.ms) && (fault.ms as number) >= 0
          ? undefined
          : "'ms' must be a finite number, 0 or more";
      case "silent":
        if (fault.at !== "worker") return "'at' must be \"worker\"";
        return Number.isFinite(fault.ms) && (fault.ms as number) > 0
          ? undefined
          : "'ms' must be a finite number above 0";
      case "touch":
        if (!at) return "'at' must be a string";
        if (typeof fault.path !== "string") return "'path' must be a string";
        return fault.access === "read" || fault.access === "write"
          ? undefined
          : '\'access\' must be "read" or "write"';
      default:
        return "'kind' must be one of throw, stall, emit, delay, silent, touch";
    }
  })();
  return problem && `'fault': ${problem}`;
}

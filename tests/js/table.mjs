// Runs one function of a generated VoxEngine scenario's runtime over a table of cases.
// Usage: node table.mjs SCENARIO.js TABLE.json CALL — CALL is JavaScript source of a function
// of one case, evaluated inside the scenario (e.g. `(c) => $normalizePhone(c.text, c.normalize)`).
// Prints, per case, { value } or { error } (the thrown error's message). The scenario is
// loaded unchanged, with no VoxEngine event ever fired.

import fs from "node:fs";
import vm from "node:vm";

const [scenarioPath, tablePath, call] = process.argv.slice(2);
const table = JSON.parse(fs.readFileSync(tablePath, "utf8"));
const noop = () => {};
const ctx = vm.createContext({
  Logger: { write: noop },
  require: noop,
  Modules: {},
  AppEvents: {},
  CallEvents: {},
  VoiceList: new Proxy({}, { get: () => new Proxy({}, { get: () => "voice" }) }),
  ASRProfileList: new Proxy({}, { get: () => new Proxy({}, { get: () => "profile" }) }),
  VoxEngine: { addEventListener: noop },
});
vm.runInContext(fs.readFileSync(scenarioPath, "utf8"), ctx, { filename: scenarioPath });
const f = vm.runInContext(call, ctx);
const results = table.map((c) => {
  try {
    return { value: f(c) };
  } catch (e) {
    return { error: e.message };
  }
});
console.log(JSON.stringify(results));

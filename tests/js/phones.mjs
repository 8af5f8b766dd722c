// Runs the phone normalizer of a generated VoxEngine scenario over a table of cases.
// Usage: node phones.mjs SCENARIO.js TABLE.json — prints, per case, { phone } or { error }
// as the scenario's `$normalizePhone` answers (the scenario is loaded unchanged, with no
// VoxEngine event ever fired).

import fs from "node:fs";
import vm from "node:vm";

const [scenarioPath, tablePath] = process.argv.slice(2);
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
const normalize = vm.runInContext("$normalizePhone", ctx);
const results = table.map(({ text, normalize: how }) => {
  try {
    return { phone: normalize(text, how) };
  } catch (e) {
    return { error: e.message };
  }
});
console.log(JSON.stringify(results));

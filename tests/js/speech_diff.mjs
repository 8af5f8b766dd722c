// Runs speech helper calls through the JavaScript mirror of `ivrc::speech`, for the
// differential test tests/speech_js.rs. Loads runtime.js (IvrcError, $chk, $number) and
// speech.js into one VM context, as a VoxEngine scenario holds them, with the `$sZones`
// table the Rust side wrote. Usage:
//   node speech_diff.mjs RUNTIME.js SPEECH.js ZONES.json CALLS.json
// CALLS.json is [{f: "words", a: [args…]}, …] where a BigInt is written {n: "digits"}.
// Prints one JSON array: {ok: text} or {err: IvrcError's message} per call, or {crash: …}
// when a helper threw anything else or returned something other than a string.

import fs from "node:fs";
import vm from "node:vm";

const [runtimePath, speechPath, zonesPath, callsPath] = process.argv.slice(2);
const ctx = vm.createContext({});
vm.runInContext(fs.readFileSync(runtimePath, "utf8"), ctx, { filename: runtimePath });
vm.runInContext(`const $sZones = ${fs.readFileSync(zonesPath, "utf8")};`, ctx, { filename: zonesPath });
vm.runInContext(fs.readFileSync(speechPath, "utf8"), ctx, { filename: speechPath });
const run = vm.runInContext(`(function (call) {
  const helpers = { plural: $sPlural, words: $sWords, digits: $sDigits, money: $sMoney, date: $sDate, time: $sTime };
  const args = call.a.map((a) => (a !== null && typeof a === "object" && !Array.isArray(a) ? BigInt(a.n) : a));
  try {
    const value = helpers[call.f].apply(null, args);
    return typeof value === "string" ? { ok: value } : { crash: "returned " + String(value) };
  } catch (e) {
    return e instanceof IvrcError ? { err: e.message } : { crash: String((e && e.stack) || e) };
  }
})`, ctx);
const calls = JSON.parse(fs.readFileSync(callsPath, "utf8"));
process.stdout.write(JSON.stringify(calls.map((call) => run(call))));

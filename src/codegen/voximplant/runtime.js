/* ivrc runtime for VoxEngine: runs the FLOW table below with the same semantics as the
 * ivrc engine (src/engine in the ivrc repository; `ivrc test` runs the same flows).
 * Numbers are exact 64-bit integers (BigInt); overflow is an error, never a wrap. */

const $MIN = -(2n ** 63n);
const $MAX = 2n ** 63n - 1n;

class IvrcError extends Error {}

function $isJ(v) { return v !== null && typeof v === "object" && "j" in v; }
function $chk(x) {
  if (x < $MIN || x > $MAX) throw new IvrcError("number overflow");
  return x;
}
function $add(a, b) {
  if (typeof a === "bigint") return $chk(a + b);
  return { d: a.d + b.d };
}
function $sub(a, b) {
  if (typeof a === "bigint") return $chk(a - b);
  if (a.d < b.d) throw new IvrcError("duration below zero");
  return { d: a.d - b.d };
}
function $mul(a, b) { return $chk(a * b); }
function $div(a, b) {
  if (b === 0n) throw new IvrcError("division by zero");
  return $chk(a / b);
}
function $rem(a, b) {
  if (b === 0n) throw new IvrcError("division by zero");
  return a % b;
}
function $neg(a) { return $chk(-a); }
function $dur(ms) {
  const H = 3600000, M = 60000, S = 1000;
  if (ms > 0 && ms % H === 0) return ms / H + "h";
  if (ms > 0 && ms % M === 0) return ms / M + "m";
  if (ms % S === 0) return ms / S + "s";
  return ms + "ms";
}
/* Renders a value as spoken or sent; a missing value is an error (strict templates). */
function $r(v) {
  if (typeof v === "bigint" || typeof v === "string") return String(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (v !== null && typeof v === "object" && typeof v.d === "number") return $dur(v.d);
  if ($isJ(v)) {
    if (v.j === null || v.j === undefined) throw new IvrcError("the value is missing (JSON null)");
    if (typeof v.j === "string") return v.j;
    return JSON.stringify(v.j);
  }
  throw new IvrcError("the value is missing");
}
function $var(s, i) {
  const v = s.v[i];
  if (v === undefined) throw new IvrcError("a variable is used before it has a value");
  return v;
}
function $legNumber(s, i) {
  const n = s.legs[i].number;
  if (!n) throw new IvrcError("the leg's number is not known");
  return n;
}
function $builtin(s, name) {
  if (name === "called" && s.called) return s.called;
  if (name === "call_id") return s.callId;
  throw new IvrcError("the built-in value is not available here");
}
function $json(v) {
  if (typeof v === "bigint") return Number(v) === Number(v) && v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : String(v);
  if (v !== null && typeof v === "object" && typeof v.d === "number") return v.d;
  if ($isJ(v)) return v.j === undefined ? null : v.j;
  return v;
}
function $truthy(v) {
  if (typeof v === "boolean") return v;
  if ($isJ(v)) {
    const j = v.j;
    if (j === null || j === undefined || j === false || j === 0 || j === "") return false;
    return true;
  }
  return true;
}
function $eq(a, b) {
  if ($isJ(a) || $isJ(b)) {
    return JSON.stringify($json(a)) === JSON.stringify($json(b));
  }
  if (typeof a === "object" && a && typeof b === "object" && b) return a.d === b.d;
  return a === b;
}
function $cmp(a, b) {
  const x = typeof a === "bigint" ? a : BigInt(a.d);
  const y = typeof b === "bigint" ? b : BigInt(b.d);
  return x < y ? -1 : x > y ? 1 : 0;
}
function $field(v, path) {
  let j = $isJ(v) ? v.j : $json(v);
  for (const k of path) j = j !== null && typeof j === "object" && k in j ? j[k] : null;
  return { j: j };
}
function $plain(v) {
  if (v && typeof v === "object" && "j" in v && typeof v.j === "string") return v.j;
  return $r(v);
}
function $number(v) {
  if (typeof v === "bigint") return v;
  if ($isJ(v) && typeof v.j === "number" && Number.isInteger(v.j)) return BigInt(v.j);
  const t = $plain(v).trim();
  if (!/^[+-]?[0-9]+$/.test(t)) throw new IvrcError("`" + t + "` is not a whole number");
  return $chk(BigInt(t));
}
function $digits(v) {
  if (typeof v === "bigint" && v >= 0n) return String(v);
  const t = $plain(v);
  if (!/^[0-9*#]+$/.test(t)) throw new IvrcError("`" + t + "` is not a string of phone keys");
  return t;
}
function $phone(v) {
  const t = $plain(v).replace(/[\s().-]/g, "");
  if (!/^\+[1-9][0-9]{7,14}$/.test(t) || (t.startsWith("+7") && t.length !== 12)) {
    throw new IvrcError("`" + t + "` is not a phone number in international form");
  }
  return t;
}
function $text(v) { return $plain(v); }
/* Phone normalization, exactly as `ivrc build` normalizes a leads file (src/phone.rs; one
 * table of cases, tests/fixtures/phones/normalize.json, runs against both): spaces, `-`,
 * `(`, `)` and `.` are ignored and `+` may only come first; "e164" wants `+` and 8 to 15
 * digits (11 after +7), "ru" also takes 8…/7… with 11 digits or 10 national digits. */
function $normalizePhone(text, how) {
  let plus = false, seen = false, digits = "";
  for (const c of text) {
    if (c === " " || c === "\t" || c === "\u00a0" || c === "\u2007" || c === "\u202f") continue;
    const first = !seen;
    seen = true;
    if (c >= "0" && c <= "9") digits += c;
    else if (c === "+" && first) plus = true;
    else if (c !== "-" && c !== "(" && c !== ")" && c !== ".") throw new IvrcError("`" + c + "` is not allowed in a phone number");
  }
  if (!plus && digits === "") throw new IvrcError("the phone number is empty");
  if (how === "ru") {
    let national = null;
    if (plus) {
      if (digits.startsWith("7")) {
        if (digits.length - 1 !== 10) throw new IvrcError("a +7 number has 10 digits after the country code, this one has " + (digits.length - 1));
        national = digits.slice(1);
      }
    } else if (digits.length === 11 && (digits[0] === "7" || digits[0] === "8")) national = digits.slice(1);
    else if (digits.length === 10) national = digits;
    if (national === null) throw new IvrcError("`" + text + "` cannot be read as a Russian number (expected +7…, 8…, 7… with 11 digits or 10 digits without the country code)");
    return "+7" + national;
  }
  if (!plus) throw new IvrcError("a phone number in international form starts with `+` and a country code");
  if (digits.startsWith("0")) throw new IvrcError("a country code never starts with 0");
  if (digits.startsWith("7") && digits.length !== 11) throw new IvrcError("a +7 number has 10 digits after the country code, this one has " + Math.max(digits.length - 1, 0));
  if (digits.length < 8 || digits.length > 15) throw new IvrcError("a phone number has 8 to 15 digits after `+`, this one has " + digits.length);
  return "+" + digits;
}
/* One cell of a call-list row read into a parameter, as the leads file's cells are read
 * (src/leads.rs): blank is an error, text is kept as written, numbers and digits are trimmed
 * and checked, phones normalized with `how`. The error names the column and the value. */
function $cell(raw, name, type, how) {
  const text = raw === undefined || raw === null ? "" : typeof raw === "string" ? raw : String(raw);
  const value = text.trim();
  if (value === "") throw new IvrcError("column `" + name + "` is empty");
  if (type === "phone") {
    try { return $normalizePhone(value, how); } catch (e) {
      throw new IvrcError("`" + text + "` in column `" + name + "` is not a valid phone number: " + (e instanceof Error ? e.message : String(e)));
    }
  }
  if (type === "number") {
    if (!/^[+-]?[0-9]+$/.test(value)) throw new IvrcError("`" + text + "` in column `" + name + "` is not a number");
    const n = BigInt(value);
    if (n < $MIN || n > $MAX) throw new IvrcError("`" + text + "` in column `" + name + "` is not a number");
    return n;
  }
  if (type === "digits") {
    if (!/^[0-9]+$/.test(value)) throw new IvrcError("`" + text + "` in column `" + name + "` is not a number");
    return value;
  }
  return text;
}
function $len(v) { return BigInt(Array.from($plain(v)).length); }
// A value put into a URL: percent-encoded except RFC 3986's unreserved characters.
function $enc(v) {
  return encodeURIComponent($r(v)).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}
// Whether a template block says its text for a value (engine::Value::present).
function $present(v) {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") return v !== "";
  if (typeof v === "bigint") return v !== 0n;
  if (v !== null && typeof v === "object" && typeof v.d === "number") return v.d !== 0;
  if ($isJ(v)) {
    const j = v.j;
    if (j === null || j === undefined || j === false || j === 0 || j === "") return false;
    return !(Array.isArray(j) && j.length === 0);
  }
  return false;
}
/* Phrase matching: lower case, «ё» as «е», punctuation ignored, whole words, negations
 * respected ($NEGATIONS and $NEGATION_REACH come from src/phrase.rs with the flow). */
function $norm(text) {
  return text.toLowerCase().replace(/ё/g, "е").split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0).join(" ");
}
/* Whether a negation ($NEGATIONS, or the "t" of an English "n't") is word `i` of `words`. */
function $negates(words, i) {
  if (i < 0 || i >= words.length) return false;
  return $NEGATIONS.indexOf(words[i]) >= 0 || (words[i] === "t" && i > 0 && /n$/.test(words[i - 1]));
}
/* Whether the phrase is said in the utterance (both normalized): as whole words, at least once
 * with no negation among the $NEGATION_REACH words before it, unless the phrase holds a
 * negation itself («не готов» does not say «готов»; src/phrase.rs `says`). */
function $says(utterance, phrase) {
  if (phrase === "") return false;
  const u = utterance.split(" "), p = phrase.split(" ");
  let negative = false;
  for (let i = 0; i < p.length; i++) if ($negates(p, i)) negative = true;
  for (let start = 0; start + p.length <= u.length; start++) {
    let same = true;
    for (let k = 0; k < p.length && same; k++) same = u[start + k] === p[k];
    if (!same) continue;
    let negated = false;
    for (let i = Math.max(0, start - $NEGATION_REACH); i < start; i++) if ($negates(u, i)) negated = true;
    if (negative || !negated) return true;
  }
  return false;
}

/* One run of a flow: the state machine of the ivrc engine, fed by VoxEngine events. */
function ivrcRun(FLOW, start) {
  const s = {
    v: [], legs: FLOW.legs.map(() => ({ call: null, status: "idle", number: null })),
    loops: FLOW.loops.map(() => ({ count: 0, timer: null, expired: false })),
    called: null, callId: "", sms: null, node: FLOW.entry, wait: null, handler: null,
    ended: false, reported: false, timers: new Set(), asr: null, row: {},
  };
  const node = (id) => FLOW.nodes[id];
  function log(text) { Logger.write("[ivrc " + FLOW.name + "] " + text); }
  /* Each step that reaches outside the scenario (a leg's call, a dial, a transfer, a fetch,
   * an SMS, a hangup, a report, the end) goes to the session log as one JSON line,
   * `[ivrc FLOW] step ["dial","op","+7…"]`: the call history shows what the flow did, and the
   * differential tests read the same lines instead of hooking into the scenario. */
  function step(kind, ...args) { log("step " + JSON.stringify([kind].concat(args))); }

  function timer(ms, fire) {
    const t = setTimeout(() => { s.timers.delete(t); if (!s.ended) fire(); }, ms);
    s.timers.add(t);
    return t;
  }
  function cancel(t) { if (t !== null && t !== undefined) { clearTimeout(t); s.timers.delete(t); } }

  function say(leg, text) {
    const c = s.legs[leg].call;
    if (c) c.say(text, FLOW.sayOptions);
  }
  function stopPrompt(leg) { const c = s.legs[leg].call; if (c) c.stopPlayback(); }

  /* The flow is over: no timer fires and nothing listens any more; with `hangUp`, every
   * connected leg is hung up too. */
  function stop(hangUp) {
    s.ended = true; step("end");
    for (const t of s.timers) clearTimeout(t);
    stopListening();
    if (hangUp) for (const l of s.legs) if (l.call && l.status === "connected") l.call.hangup();
  }

  function end() {
    if (s.ended) return;
    stop(true);
    if (FLOW.callList && !s.reported) {
      // An attempt that ends without `report`: done when the dialer placed the call, else
      // retry. Voximplant counts an unreported attempt as done, so always report.
      if (FLOW.callList.dialsLead) listReport(true, { ivrc: "ended" });
      else listReport(false, { ivrc: "ended without report" });
      return;
    }
    VoxEngine.terminate();
  }

  /* Reports the attempt to the call list — after POSTing it to the campaign's result
   * webhook, when there is one; a webhook failure is logged and the list still gets the
   * result — then ends the session once the report is delivered. */
  function listReport(ok, result) {
    s.reported = true;
    const deliver = () => {
      const cb = () => VoxEngine.terminate();
      if (ok) CallList.reportResult(result, cb); else CallList.reportError(result, cb);
    };
    const hook = FLOW.callList.resultWebhook;
    if (hook === null) { deliver(); return; }
    const body = JSON.stringify({ campaign: FLOW.callList.campaign, flow: FLOW.name, lead: s.row, ok: ok, result: result });
    Net.httpRequestAsync(hook, { method: "POST", headers: { "Content-Type": "application/json" }, postData: body, timeout: 10 })
      .then((r) => { if (r.code < 200 || r.code >= 300) log("result webhook: HTTP " + r.code); }, (e) => log("result webhook: " + String(e)))
      .then(deliver);
  }

  function raise(reason) {
    log("error: " + reason);
    if (FLOW.handlers.error !== null && s.handler !== "error") {
      s.handler = "error";
      run(FLOW.handlers.error);
    } else {
      end();
    }
  }

  function follow(outcome) {
    const to = node(s.node).e[outcome];
    if (to === undefined) raise("no edge for " + outcome); else run(to);
  }

  function stopListening() {
    if (s.asr) { try { s.asr.stop(); } catch (e) { /* already stopped */ } s.asr = null; }
  }

  function cancelWait() {
    const w = s.wait;
    s.wait = null;
    if (!w) return;
    if (w.prompting) stopPrompt(w.leg);
    cancel(w.timer); cancel(w.pause); cancel(w.deadline);
    if (w.kind === "listen") stopListening();
    if (w.kind === "record") stopRecording(w);
  }

  function value(f) {
    try { return { ok: f(s) }; } catch (e) {
      if (e instanceof IvrcError) { raise(e.message); return null; }
      throw e;
    }
  }

  function prompt(n, retry) {
    const p = retry ? (n.reprompt || (n.prompt && n.prompt.text)) : (n.prompt && n.prompt.text);
    if (!p) return false;
    const t = value(p);
    if (!t) return false;
    say(n.leg, t.ok);
    return true;
  }

  function run(start) {
    let id = start;
    for (let steps = 0; steps < 100000; steps++) {
      if (s.ended) return;
      s.node = id;
      const n = node(id);
      switch (n.op) {
        case "answer": { const c = s.legs[n.leg].call; if (c && !s.answered) { s.answered = true; c.answer(); } break; }
        case "say": { const t = value(n.text); if (!t) return; say(n.leg, t.ok); s.wait = { kind: "prompt", leg: n.leg }; return; }
        case "play": {
          const c = s.legs[n.leg].call;
          if (n.record !== undefined) { raise("platform record ids cannot be played on Voximplant"); return; }
          const u = value(n.url); if (!u) return;
          if (c) c.startPlayback(u.ok);
          s.wait = { kind: "prompt", leg: n.leg };
          return;
        }
        case "pause": { s.wait = { kind: "pause", timer: timer(n.ms, () => { s.wait = null; follow("next"); }) }; return; }
        case "collect": startCollect(n, 0); return;
        case "menu": startMenu(n, 0); return;
        case "listen": startListen(n); return;
        case "dial": {
          const num = value(n.target); if (!num) return;
          let cid = null;
          if (n.callerId) { const c = value(n.callerId); if (!c) return; cid = c.ok; }
          dial(n.leg, num.ok, cid, n.timeout, n.amd);
          return;
        }
        case "bridge": {
          const a = s.legs[n.a], b = s.legs[n.b];
          if (a.status !== "connected" || b.status !== "connected") { raise("bridge of a leg that is not connected"); return; }
          VoxEngine.sendMediaBetween(a.call, b.call);
          const w = { kind: "bridge", a: n.a, b: n.b, timer: null };
          w.timer = timer(n.maxLength, () => {
            if (s.wait !== w) return;
            s.wait = null;
            for (const [i, l] of [[n.a, a], [n.b, b]]) { step("hangup", FLOW.legs[i]); if (l.call) l.call.hangup(); l.status = "gone"; }
            follow("next");
          });
          s.wait = w;
          return;
        }
        case "transfer": {
          const num = value(n.target); if (!num) return;
          transfer(n.leg, num.ok, n.e.next === undefined);
          if (n.e.next === undefined) return;
          break;
        }
        case "fetch": { startFetch(n); return; }
        case "record": { startRecording(n); return; }
        case "sms": {
          const to = value(n.to); if (!to) return;
          const t = value(n.text); if (!t) return;
          sendSms(to.ok, t.ok);
          break;
        }
        case "assign": { const v = value(n.value); if (!v) return; s.v[n.var] = v.ok; break; }
        case "branch": { const v = value(n.cond); if (!v) return; id = n.e[$truthy(v.ok) ? "true" : "false"]; continue; }
        case "loop_start": {
          const l = s.loops[n.loop];
          l.count = 0; l.expired = false; cancel(l.timer); l.timer = null;
          const spec = FLOW.loops[n.loop];
          if (spec.within !== null) l.timer = timer(spec.within, () => { l.expired = true; });
          break;
        }
        case "loop_check": {
          const l = s.loops[n.loop], spec = FLOW.loops[n.loop];
          if ((spec.max === null || l.count < spec.max) && !l.expired) { l.count++; id = n.e.body; } else id = n.e.done;
          continue;
        }
        case "label": break;
        case "report": { report(n); return; }
        case "hangup": {
          step("hangup", n.leg === null ? null : FLOW.legs[n.leg]);
          if (n.leg === null) { end(); return; }
          const l = s.legs[n.leg];
          if (l.call) l.call.hangup();
          l.status = "gone";
          if (n.e.next === undefined) { end(); return; }
          break;
        }
        case "raise": raise(n.reason); return;
        case "end": end(); return;
        default: raise("unsupported step " + n.op); return;
      }
      id = n.e.next;
      if (id === undefined) { raise("statement without a next step"); return; }
    }
    raise("the flow ran 100000 steps without waiting for anything");
  }

  function report(n) {
    const data = {};
    for (const [k, f] of n.data) { const v = value(f); if (!v) return; data[k] = $json(v.ok); }
    let reason = null;
    if (n.reason) { const r = value(n.reason); if (!r) return; reason = r.ok; }
    step("report", n.ok, reason, data);
    stop(true);
    if (!FLOW.callList) { VoxEngine.terminate(); return; }
    listReport(n.ok, n.ok ? data : { reason: reason });
  }

  function attach(leg, call) {
    const l = s.legs[leg];
    l.call = call;
    step("leg", FLOW.legs[leg], call.id());
    call.addEventListener(CallEvents.PlaybackFinished, () => onEvent({ type: "prompt_done", leg: leg }));
    call.addEventListener(CallEvents.ToneReceived, (e) => onEvent({ type: "key", leg: leg, key: e.tone }));
    call.addEventListener(CallEvents.Disconnected, () => onEvent({ type: "hangup", leg: leg }));
    if (FLOW.recordCalls) {
      // The campaign's `record_calls`: the whole call, kept in the session's call history.
      call.addEventListener(CallEvents.RecordStarted, (e) => log("recording " + FLOW.legs[leg] + ": " + e.url));
      call.addEventListener(CallEvents.Connected, () => call.record({}));
    }
  }

  /* A PSTN call, with an answering-machine detector when `amd` (AMD.create, targets.md A.7). */
  function callOut(number, callerId, amd) {
    const detector = amd ? AMD.create({ model: FLOW.amdModel }) : null;
    const call = detector ? VoxEngine.callPSTN(number, callerId, { amd: detector }) : VoxEngine.callPSTN(number, callerId);
    return { call: call, detector: detector };
  }
  /* Calls `done(isMachine)` once the detector has classified the answered call; a detection
   * error or timeout counts as a person, as the call is already connected. */
  function onDetection(detector, done) {
    let decided = false;
    detector.addEventListener(AMD.Events.DetectionComplete, (e) => {
      if (decided) return; decided = true;
      log("machine detection: " + e.resultClass);
      done(e.resultClass === AMD.ResultClass.VOICEMAIL);
    });
    detector.addEventListener(AMD.Events.DetectionError, (e) => {
      if (decided) return; decided = true;
      log("machine detection failed: " + e.message);
      done(false);
    });
  }

  function dial(leg, number, callerId, timeoutMs, amd) {
    const l = s.legs[leg];
    step("dial", FLOW.legs[leg], number);
    l.status = "dialing"; l.number = number;
    const out = callOut(number, callerId || FLOW.callerId || "", amd);
    const call = out.call;
    attach(leg, call);
    let settled = false;
    const ring = timer(timeoutMs, () => { if (!settled) { settled = true; call.hangup(); dialResult(leg, "no_answer"); } });
    call.addEventListener(CallEvents.Connected, () => {
      if (settled) return; settled = true; cancel(ring);
      call.handleTones(true);
      if (out.detector) onDetection(out.detector, (machine) => dialResult(leg, machine ? "machine" : "answered"));
      else dialResult(leg, "answered");
    });
    call.addEventListener(CallEvents.Failed, (e) => {
      if (settled) return; settled = true; cancel(ring);
      const code = e.code;
      dialResult(leg, code === 486 || code === 600 || code === 603 ? "busy" : code === 408 || code === 480 || code === 487 ? "no_answer" : "failed");
    });
    s.wait = { kind: "dial", leg: leg };
  }

  function dialResult(leg, outcome) {
    const w = s.wait;
    s.legs[leg].status = outcome === "answered" || outcome === "machine" ? "connected" : "gone";
    if (!w || w.kind !== "dial" || w.leg !== leg) return;
    s.wait = null;
    follow(outcome);
  }

  function transfer(leg, number, ends) {
    const from = s.legs[leg];
    step("transfer", FLOW.legs[leg], number);
    const other = VoxEngine.callPSTN(number, FLOW.callerId || (from.number || ""));
    from.status = "gone";
    other.addEventListener(CallEvents.Connected, () => { if (from.call) VoxEngine.sendMediaBetween(from.call, other); });
    other.addEventListener(CallEvents.Failed, () => { if (from.call) from.call.hangup(); });
    other.addEventListener(CallEvents.Disconnected, () => { if (from.call) from.call.hangup(); });
    if (from.call) from.call.addEventListener(CallEvents.Disconnected, () => { other.hangup(); VoxEngine.terminate(); });
    if (ends) stop(false);
  }

  async function startFetch(n) {
    const url = value(n.url); if (!url) return;
    /** @type {Object<string, unknown>} */
    const params = {};
    for (const [k, f] of n.params) { const v = value(f); if (!v) return; params[k] = $json(v.ok); }
    /** @type {Object<string, string>} */
    const headers = {};
    for (const [k, f] of n.headers) { const v = value(f); if (!v) return; headers[k] = v.ok; }
    let target = url.ok;
    const options = { method: n.method, headers: headers, timeout: n.timeout / 1000 };
    if (n.method === "GET") {
      const q = Object.keys(params).map((k) => encodeURIComponent(k) + "=" + encodeURIComponent(typeof params[k] === "string" ? params[k] : JSON.stringify(params[k]))).join("&");
      if (q) target += (target.indexOf("?") >= 0 ? "&" : "?") + q;
    } else {
      options.postData = JSON.stringify(params);
      headers["Content-Type"] = "application/json";
    }
    const me = n.id;
    step("fetch", n.method, url.ok);
    s.wait = { kind: "fetch" };
    let result;
    try {
      const res = await Net.httpRequestAsync(target, options);
      if (res.code >= 200 && res.code < 300) result = { ok: JSON.parse(res.text) };
      else result = { error: "HTTP " + res.code };
    } catch (e) {
      result = { error: String(e) };
    }
    if (s.ended || !s.wait || s.wait.kind !== "fetch" || s.node !== me) return;
    s.wait = null;
    if ("ok" in result) { s.v[n.var] = { j: result.ok }; follow("ok"); } else { log("fetch failed: " + result.error); follow("error"); }
  }

  /* `record`: what the party says goes to a Recorder (Modules.Recorder) until the end key,
   * the longest length or a hangup; the address comes with RecorderEvents.Started. */
  function startRecording(n) {
    const c = s.legs[n.leg].call;
    const recorder = VoxEngine.createRecorder({ name: FLOW.name + " " + FLOW.legs[n.leg] });
    const w = { kind: "record", leg: n.leg, recorder: recorder, url: null, stopping: false, timer: null };
    recorder.addEventListener(RecorderEvents.Started, (e) => { w.url = e.url; });
    recorder.addEventListener(RecorderEvents.Stopped, () => onEvent({ type: "recorded", w: w }));
    recorder.addEventListener(RecorderEvents.RecorderError, (e) => {
      if (s.ended || s.wait !== w) return;
      s.wait = null; cancel(w.timer);
      raise("recording failed: " + e.error);
    });
    if (c) c.sendMediaTo(recorder);
    w.timer = timer(n.maxMs, () => stopRecording(w));
    s.wait = w;
  }
  function stopRecording(w) {
    cancel(w.timer); w.timer = null;
    if (!w.stopping) { w.stopping = true; w.recorder.stop(); }
  }

  /* `sms`: through the Management API client of Modules.VoximplantAPI, from the flow's
   * caller id (a Voximplant number with SMS enabled). The call goes on without waiting. */
  function sendSms(to, text) {
    step("sms", to, text);
    const api = new VoximplantAPI.Client();
    api.SMS.sendSmsMessage({ source: String(FLOW.callerId).replace("+", ""), destination: to.replace("+", ""), smsBody: text })
      .then((r) => { if (r.error) log("sms to " + to + " failed: " + JSON.stringify(r.error)); })
      .catch((e) => log("sms to " + to + " failed: " + String(e)));
  }

  function startCollect(n, attempt) {
    const w = { kind: "collect", leg: n.leg, attempt: attempt, digits: "", prompting: false, timer: null };
    w.prompting = prompt(n, attempt > 0);
    if (s.ended) return;
    if (!w.prompting) w.timer = timer(n.timeout, () => collectTimer(w));
    s.wait = w;
  }
  function collectTimer(w) {
    if (s.wait !== w) return;
    w.timer = null;
    const n = node(s.node);
    if (w.digits === "") retryCollect(n, w, "timeout"); else finishCollect(n, w);
  }
  function finishCollect(n, w) {
    const d = w.digits;
    let v = null;
    if (d.length >= n.minDigits && d !== "") {
      if (n.kind === "number") { if (/^[0-9]+$/.test(d)) { const b = BigInt(d); if (b <= $MAX) v = b; } }
      else v = d;
    }
    if (v === null) { retryCollect(n, w, "invalid"); return; }
    s.v[n.var] = v;
    if (n.validIf) {
      const ok = value(n.validIf); if (!ok) return;
      if (!$truthy(ok.ok)) { s.v[n.var] = undefined; retryCollect(n, w, "invalid"); return; }
    }
    s.wait = null;
    follow("ok");
  }
  function retryCollect(n, w, outcome) {
    if (w.attempt < n.retries) startCollect(n, w.attempt + 1);
    else { s.wait = null; follow(outcome); }
  }

  function startMenu(n, attempt) {
    const w = { kind: "menu", leg: n.leg, attempt: attempt, prompting: false, timer: null };
    w.prompting = prompt(n, attempt > 0);
    if (s.ended) return;
    if (!w.prompting) w.timer = timer(n.timeout, () => menuTimer(w));
    s.wait = w;
  }
  function menuTimer(w) {
    if (s.wait !== w) return;
    w.timer = null;
    retryMenu(node(s.node), w, "timeout");
  }
  function retryMenu(n, w, outcome) {
    if (w.attempt < n.retries) startMenu(n, w.attempt + 1);
    else { s.wait = null; follow(outcome); }
  }

  function startListen(n) {
    const c = s.legs[n.leg].call;
    const asr = VoxEngine.createASR({ profile: FLOW.asrProfile, singleUtterance: true, phraseHints: n.phrases.flat() });
    asr.addEventListener(ASREvents.Result, (e) => onEvent({ type: "speech", leg: n.leg, text: e.text }));
    if (c) c.sendMediaTo(asr);
    s.asr = asr;
    const w = { kind: "listen", leg: n.leg, prompting: false, pause: null, deadline: null };
    w.deadline = timer(n.within, () => {
      if (s.wait !== w) return;
      s.wait = null;
      if (w.prompting) stopPrompt(w.leg);
      cancel(w.pause);
      stopListening();
      follow("timeout");
    });
    w.prompting = prompt(n, false);
    if (s.ended) return;
    s.wait = w;
  }

  function onEvent(ev) {
    if (s.ended) return;
    if (ev.type === "hangup") { onHangup(ev.leg); return; }
    const w = s.wait;
    if (!w) return;
    const n = node(s.node);
    if (w.kind === "prompt" && ev.type === "prompt_done" && ev.leg === w.leg) { s.wait = null; follow("next"); return; }
    if (w.kind === "collect") {
      if (ev.type === "prompt_done" && ev.leg === w.leg && w.prompting) { w.prompting = false; w.timer = timer(n.timeout, () => collectTimer(w)); return; }
      if (ev.type === "key" && ev.leg === w.leg) {
        if (w.prompting) { if (!n.bargeIn) return; stopPrompt(w.leg); w.prompting = false; }
        cancel(w.timer); w.timer = null;
        const ends = n.endKey !== null && n.endKey === ev.key;
        if (ends && w.digits === "") { w.timer = timer(n.timeout, () => collectTimer(w)); return; }
        if (!ends) w.digits += ev.key;
        if (ends || w.digits.length >= n.maxDigits) finishCollect(n, w);
        else w.timer = timer(n.digitTimeout, () => collectTimer(w));
      }
      return;
    }
    if (w.kind === "menu") {
      if (ev.type === "prompt_done" && ev.leg === w.leg && w.prompting) { w.prompting = false; w.timer = timer(n.timeout, () => menuTimer(w)); return; }
      if (ev.type === "key" && ev.leg === w.leg) {
        if (w.prompting) { if (!n.bargeIn) return; stopPrompt(w.leg); w.prompting = false; }
        cancel(w.timer); w.timer = null;
        if (n.keys.indexOf(ev.key) >= 0) { s.wait = null; follow("key:" + ev.key); } else retryMenu(n, w, "invalid");
      }
      return;
    }
    if (w.kind === "record") {
      if (ev.type === "key" && ev.leg === w.leg && n.endKey !== null && n.endKey === ev.key) { stopRecording(w); return; }
      if (ev.type === "recorded" && ev.w === w) {
        s.wait = null;
        if (w.url === null) { raise("the recording has no address"); return; }
        s.v[n.var] = w.url;
        follow("next");
      }
      return;
    }
    if (w.kind === "listen") {
      if (ev.type === "prompt_done" && ev.leg === w.leg && w.prompting) {
        w.prompting = false;
        if (n.prompt && n.prompt.looped) w.pause = timer(n.prompt.pause, () => { w.pause = null; if (s.wait === w) w.prompting = prompt(n, false); });
        return;
      }
      if (ev.type === "speech" && ev.leg === w.leg) {
        const heard = $norm(ev.text);
        let matched = -1;
        for (let i = 0; i < n.phrases.length && matched < 0; i++) if (n.phrases[i].some((p) => $says(heard, p))) matched = i;
        let outcome = matched >= 0 ? "phrase:" + matched : n.e.nomatch !== undefined ? "nomatch" : null;
        if (outcome === null) {
          if (w.prompting && n.bargeIn) {
            stopPrompt(w.leg); w.prompting = false;
            if (n.prompt && n.prompt.looped) w.pause = timer(n.prompt.pause, () => { w.pause = null; if (s.wait === w) w.prompting = prompt(n, false); });
          }
          return;
        }
        s.wait = null;
        if (w.prompting) stopPrompt(w.leg);
        cancel(w.pause); cancel(w.deadline);
        stopListening();
        follow(outcome);
      }
      return;
    }
  }

  function onHangup(leg) {
    const l = s.legs[leg];
    if (l.status === "gone" || l.status === "idle") return;
    l.status = "gone";
    const w = s.wait;
    if (w && w.kind === "bridge" && (leg === w.a || leg === w.b)) { s.wait = null; cancel(w.timer); follow("next"); return; }
    if (w && w.kind === "dial" && w.leg === leg) { s.wait = null; follow("failed"); return; }
    cancelWait();
    if (FLOW.handlers.hangup !== null && s.handler === null) { s.handler = "hangup"; run(FLOW.handlers.hangup); } else end();
  }

  /* Start: parameters by name from the call-list row (nothing for an inbound call). A row
   * that cannot be read is reported to the call list with the column and the value, never a
   * silent end; the list retries it until its attempts run out, so a row fixed in the list
   * meanwhile is called. */
  function bindParams(row) {
    for (const p of FLOW.params) {
      try {
        s.v[p.var] = $cell(row[p.name], p.name, p.type, FLOW.callList ? FLOW.callList.phones : "e164");
      } catch (e) {
        if (!(e instanceof IvrcError)) throw e;
        unreadable(e.message);
        return false;
      }
    }
    return true;
  }
  function unreadable(why) {
    log("the row cannot be read: " + why);
    stop(true);
    if (FLOW.callList) listReport(false, { reason: why }); else VoxEngine.terminate();
  }

  function begin(row, caller, hasCaller) {
    s.row = row;
    if (hasCaller) { s.legs[0].status = "connected"; s.legs[0].number = caller; }
    if (bindParams(row)) run(FLOW.entry);
  }

  start({
    attach: attach,
    begin: begin,
    /* A call-list task of a campaign with `dial COLUMN`: call the lead, run the flow once a
     * person answers; otherwise report the attempt as failed so that the list retries it. */
    dialLead: (row, column) => {
      const raw = row[column];
      s.row = row;
      const unreached = (why) => { log(why); listReport(false, { ivrc: why }); };
      let lead;
      try { lead = $cell(raw, column, "phone", FLOW.callList.phones); } catch (e) {
        if (!(e instanceof IvrcError)) throw e;
        unreadable(e.message);
        return;
      }
      const out = callOut(lead, FLOW.callerId || "", FLOW.callList.detectMachine);
      const call = out.call;
      attach(0, call);
      call.addEventListener(CallEvents.Connected, () => {
        call.handleTones(true);
        if (!out.detector) { begin(row, lead, true); return; }
        onDetection(out.detector, (machine) => {
          if (!machine) { begin(row, lead, true); return; }
          call.hangup();
          unreached("an answering machine answered the lead");
        });
      });
      call.addEventListener(CallEvents.Failed, () => unreached("the lead did not answer"));
    },
    setCalled: (n, id) => { s.called = n; s.callId = id; },
  });
}

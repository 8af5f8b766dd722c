/* ivrc speech helpers for VoxEngine (issue 19): the JavaScript mirror of the Rust library
 * `ivrc::speech` (src/speech, docs/speech.md). Every function says exactly what its Rust
 * twin says, byte for byte, and fails with an IvrcError (runtime.js) carrying SpeechError's
 * message; tests/speech_js.rs compares the two over many thousands of generated calls.
 * Numbers are BigInt within the 64-bit range, as everywhere in runtime.js. Nothing depends
 * on the host's locale, clock or time-zone files: IANA zones come from `$sZones`, a table
 * the codegen writes from jiff's bundled database (`ivrc::speech::zone_table`), since
 * VoxEngine documents no Intl time-zone support. Plain ES2019 plus BigInt, no modules. */

/* What Rust's `char::is_whitespace` (and `str::trim`) take for white space: the Unicode
 * White_Space property, which differs from JavaScript's `\s` (U+0085 in, U+FEFF out). */
const $sSPACE = "\t\n\u000b\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";
function $sIsSpace(c) { return c.length === 1 && $sSPACE.indexOf(c) >= 0; }
/* `text` without white space at either end, as Rust's `str::trim`. */
function $sTrim(text) {
  let a = 0, b = text.length;
  while (a < b && $sIsSpace(text[a])) a++;
  while (b > a && $sIsSpace(text[b - 1])) b--;
  return text.slice(a, b);
}
/* ASCII letters lowered, nothing else (Rust's `to_ascii_lowercase`). */
function $sLower(text) { return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32)); }
/* ASCII letters raised, nothing else (Rust's `to_ascii_uppercase`). */
function $sUpper(text) { return text.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 32)); }
/* The length of `text` in UTF-8 bytes (Rust's `str::len`). */
function $sBytes(text) {
  let n = 0;
  for (const c of text) { const u = c.codePointAt(0); n += u < 0x80 ? 1 : u < 0x800 ? 2 : u < 0x10000 ? 3 : 4; }
  return n;
}
/* A whole number for a helper: BigInt as it is, anything else read as runtime.js reads one. */
function $sInt(n) { return typeof n === "bigint" ? $chk(n) : $number(n); }

/* "ru" or "en" for a BCP 47 tag, by its primary subtag in any letter case (Lang::from_str). */
function $sLang(tag) {
  const text = String(tag);
  const primary = $sLower(text.split(/[-_]/)[0]);
  if (primary === "ru" || primary === "en") return primary;
  throw new IvrcError("unknown language `" + text + "`: the speech helpers speak Russian and English (`ru-RU`, `en-US`, `ru`, `en`)");
}
/* 0, 1, 2 for masculine, feminine, neuter (Gender::from_str). */
function $sGender(name) {
  const text = String(name);
  if (text === "masculine" || text === "m") return 0;
  if (text === "feminine" || text === "f") return 1;
  if (text === "neuter" || text === "n") return 2;
  throw new IvrcError("unknown gender `" + text + "`: use `masculine`, `feminine` or `neuter`");
}
const $sCASES = ["nominative", "genitive", "dative", "accusative", "instrumental", "prepositional"];
/* The index of a case in $sCASES (Case::from_str). */
function $sCase(name) {
  const at = $sCASES.indexOf(String(name));
  if (at < 0) throw new IvrcError("unknown case `" + String(name) + "`: use `nominative`, `genitive`, `dative`, `accusative`, `instrumental` or `prepositional`");
  return at;
}

/* The CLDR plural category of a magnitude (BigInt ≥ 0): 0 one, 1 few, 2 many/other. */
function $sCategory(lang, m) {
  if (lang === "en") return m === 1n ? 0 : 2;
  const d = m % 10n, h = m % 100n;
  if (d === 1n && h !== 11n) return 0;
  if (d >= 2n && d <= 4n && !(h >= 12n && h <= 14n)) return 1;
  return 2;
}

/* plural(lang, n, forms): the form of a noun for n (3 forms in Russian, 2 in English). */
function $sPlural(lang, n, forms) {
  const l = $sLang(lang);
  const ru = l === "ru", expected = ru ? 3 : 2;
  if (forms.length !== expected) {
    throw new IvrcError((ru ? "Russian" : "English") + " `plural` takes " + expected + " forms (" +
      (ru ? "one, few, many: рубль, рубля, рублей" : "one, other: dollar, dollars") + "), got " + forms.length);
  }
  const v = $sInt(n);
  const c = $sCategory(l, v < 0n ? -v : v);
  return forms[c === 2 ? forms.length - 1 : c];
}

const $sZERO = ["ноль", "ноля", "нолю", "ноль", "нолём", "ноле"];
const $sONE = [
  ["один", "одного", "одному", "один", "одним", "одном"],
  ["одна", "одной", "одной", "одну", "одной", "одной"],
  ["одно", "одного", "одному", "одно", "одним", "одном"],
];
const $sUNITS = [
  ["два", "двух", "двум", "два", "двумя", "двух"],
  ["три", "трёх", "трём", "три", "тремя", "трёх"],
  ["четыре", "четырёх", "четырём", "четыре", "четырьмя", "четырёх"],
  ["пять", "пяти", "пяти", "пять", "пятью", "пяти"],
  ["шесть", "шести", "шести", "шесть", "шестью", "шести"],
  ["семь", "семи", "семи", "семь", "семью", "семи"],
  ["восемь", "восьми", "восьми", "восемь", "восемью", "восьми"],
  ["девять", "девяти", "девяти", "девять", "девятью", "девяти"],
];
const $sTEENS = [
  ["десять", "десяти", "десяти", "десять", "десятью", "десяти"],
  ["одиннадцать", "одиннадцати", "одиннадцати", "одиннадцать", "одиннадцатью", "одиннадцати"],
  ["двенадцать", "двенадцати", "двенадцати", "двенадцать", "двенадцатью", "двенадцати"],
  ["тринадцать", "тринадцати", "тринадцати", "тринадцать", "тринадцатью", "тринадцати"],
  ["четырнадцать", "четырнадцати", "четырнадцати", "четырнадцать", "четырнадцатью", "четырнадцати"],
  ["пятнадцать", "пятнадцати", "пятнадцати", "пятнадцать", "пятнадцатью", "пятнадцати"],
  ["шестнадцать", "шестнадцати", "шестнадцати", "шестнадцать", "шестнадцатью", "шестнадцати"],
  ["семнадцать", "семнадцати", "семнадцати", "семнадцать", "семнадцатью", "семнадцати"],
  ["восемнадцать", "восемнадцати", "восемнадцати", "восемнадцать", "восемнадцатью", "восемнадцати"],
  ["девятнадцать", "девятнадцати", "девятнадцати", "девятнадцать", "девятнадцатью", "девятнадцати"],
];
const $sTENS = [
  ["двадцать", "двадцати", "двадцати", "двадцать", "двадцатью", "двадцати"],
  ["тридцать", "тридцати", "тридцати", "тридцать", "тридцатью", "тридцати"],
  ["сорок", "сорока", "сорока", "сорок", "сорока", "сорока"],
  ["пятьдесят", "пятидесяти", "пятидесяти", "пятьдесят", "пятьюдесятью", "пятидесяти"],
  ["шестьдесят", "шестидесяти", "шестидесяти", "шестьдесят", "шестьюдесятью", "шестидесяти"],
  ["семьдесят", "семидесяти", "семидесяти", "семьдесят", "семьюдесятью", "семидесяти"],
  ["восемьдесят", "восьмидесяти", "восьмидесяти", "восемьдесят", "восемьюдесятью", "восьмидесяти"],
  ["девяносто", "девяноста", "девяноста", "девяносто", "девяноста", "девяноста"],
];
const $sHUNDREDS = [
  ["сто", "ста", "ста", "сто", "ста", "ста"],
  ["двести", "двухсот", "двумстам", "двести", "двумястами", "двухстах"],
  ["триста", "трёхсот", "трёмстам", "триста", "тремястами", "трёхстах"],
  ["четыреста", "четырёхсот", "четырёмстам", "четыреста", "четырьмястами", "четырёхстах"],
  ["пятьсот", "пятисот", "пятистам", "пятьсот", "пятьюстами", "пятистах"],
  ["шестьсот", "шестисот", "шестистам", "шестьсот", "шестьюстами", "шестистах"],
  ["семьсот", "семисот", "семистам", "семьсот", "семьюстами", "семистах"],
  ["восемьсот", "восьмисот", "восьмистам", "восемьсот", "восемьюстами", "восьмистах"],
  ["девятьсот", "девятисот", "девятистам", "девятьсот", "девятьюстами", "девятистах"],
];
/* «тысяча» by case (rows) and plural category (columns). */
const $sTHOUSAND = [
  ["тысяча", "тысячи", "тысяч"], ["тысячи", "тысяч", "тысяч"], ["тысяче", "тысячам", "тысячам"],
  ["тысячу", "тысячи", "тысяч"], ["тысячей", "тысячами", "тысячами"], ["тысяче", "тысячах", "тысячах"],
];
/* The endings of «миллион» and the higher powers by case and plural category. */
const $sSCALE_ENDINGS = [
  ["", "а", "ов"], ["а", "ов", "ов"], ["у", "ам", "ам"], ["", "а", "ов"], ["ом", "ами", "ами"], ["е", "ах", "ах"],
];
const $sRU_SCALES = ["миллион", "миллиард", "триллион", "квадриллион", "квинтиллион"];
const $sEN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
  "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"];
const $sEN_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
const $sEN_SCALES = ["", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion"];

/* Appends a Russian group of three digits (1..=999) to the word list `out`. */
function $sRuGroup(out, group, gender, c) {
  const hundreds = Math.floor(group / 100), tens = Math.floor(group / 10) % 10, units = group % 10;
  if (hundreds > 0) out.push($sHUNDREDS[hundreds - 1][c]);
  if (tens === 1) { out.push($sTEENS[units][c]); return; }
  if (tens > 1) out.push($sTENS[tens - 2][c]);
  if (units === 1) out.push($sONE[gender][c]);
  else if (units === 2 && gender === 1 && (c === 0 || c === 3)) out.push("две");
  else if (units > 1) out.push($sUNITS[units - 2][c]);
}
/* Appends an English group of three digits (1..=999) to the word list `out`. */
function $sEnGroup(out, group) {
  const hundreds = Math.floor(group / 100), rest = group % 100;
  if (hundreds > 0) out.push($sEN_ONES[hundreds], "hundred");
  if (rest > 0 && rest < 20) out.push($sEN_ONES[rest]);
  else if (rest >= 20) out.push($sEN_TENS[Math.floor(rest / 10) - 2] + (rest % 10 > 0 ? "-" + $sEN_ONES[rest % 10] : ""));
}
/* The BigInt `n` in words: `lang` "ru"/"en", gender 0..2, case 0..5 (numbers.rs `words`). */
function $sSay(lang, n, gender, c) {
  const out = [];
  if (n < 0n) out.push(lang === "ru" ? "минус" : "minus");
  let rest = n < 0n ? -n : n;
  if (rest === 0n) { out.push(lang === "ru" ? $sZERO[c] : "zero"); return out.join(" "); }
  const groups = [];
  while (rest > 0n) { groups.push(Number(rest % 1000n)); rest /= 1000n; }
  for (let scale = groups.length - 1; scale >= 0; scale--) {
    const group = groups[scale];
    if (group === 0) continue;
    if (lang === "en") {
      $sEnGroup(out, group);
      if (scale > 0) out.push($sEN_SCALES[scale]);
      continue;
    }
    $sRuGroup(out, group, scale === 0 ? gender : scale === 1 ? 1 : 0, c);
    const category = $sCategory("ru", BigInt(group));
    if (scale === 1) out.push($sTHOUSAND[c][category]);
    else if (scale > 1) out.push($sRU_SCALES[Math.min(scale - 2, $sRU_SCALES.length - 1)] + $sSCALE_ENDINGS[c][category]);
  }
  return out.join(" ");
}

/* words(lang, n, gender, case): n in words, agreeing in gender and case in Russian. */
function $sWords(lang, n, gender, grammaticalCase) {
  const l = $sLang(lang);
  const g = $sGender(gender);
  const c = $sCase(grammaticalCase);
  return $sSay(l, $sInt(n), g, c);
}

/* digits(text, groups): text's digits one by one, grouped by the sizes in `groups`. */
function $sDigits(text, groups) {
  const sizes = Array.from(groups, Number);
  for (const size of sizes) if (!(size >= 1)) throw new IvrcError("`digits` group sizes must be at least 1");
  let next = 1, size = sizes.length > 0 ? sizes[0] : Infinity, inGroup = 0, out = "";
  for (const c of String(text)) {
    if ($sIsSpace(c) || "+-().".indexOf(c) >= 0) continue;
    if (!(c >= "0" && c <= "9")) throw new IvrcError("`digits` reads only digits (spaces and + - ( ) . are skipped), got `" + c + "`");
    if (inGroup === size) {
      out += ", ";
      inGroup = 0;
      if (next < sizes.length) size = sizes[next++];
    } else if (out !== "") out += " ";
    out += c;
    inGroup++;
  }
  if (out === "") throw new IvrcError("`digits` was given no digits");
  return out;
}

/* The nouns of a currency's units: Russian one/few/many, gender, English one/other. */
const $sCENT = { ru: ["цент", "цента", "центов"], gender: 0, en: ["cent", "cents"] };
const $sCURRENCIES = {
  RUB: [{ ru: ["рубль", "рубля", "рублей"], gender: 0, en: ["ruble", "rubles"] },
    { ru: ["копейка", "копейки", "копеек"], gender: 1, en: ["kopeck", "kopecks"] }],
  USD: [{ ru: ["доллар", "доллара", "долларов"], gender: 0, en: ["dollar", "dollars"] }, $sCENT],
  EUR: [{ ru: ["евро", "евро", "евро"], gender: 2, en: ["euro", "euros"] }, $sCENT],
};
/* n (BigInt ≥ 0) and the unit's noun in the form n takes (money.rs `say`). */
function $sUnit(lang, n, unit, words) {
  let number;
  if (words) number = $sSay(lang, n, unit.gender, 0);
  else number = String(n).replace(/\B(?=([0-9]{3})+$)/g, lang === "ru" ? " " : ",");
  const c = $sCategory(lang, n);
  return number + " " + (lang === "ru" ? unit.ru[c] : unit.en[Math.min(c, 1)]);
}
/* The sign, whole units and hundredths of an amount written as `money` reads it. */
function $sAmount(text) {
  const bad = (reason) => new IvrcError("`money` cannot read the amount `" + text + "`: " + reason);
  const trimmed = $sTrim(text);
  const negative = trimmed[0] === "-";
  const unsigned = negative ? trimmed.slice(1) : trimmed;
  const point = unsigned.search(/[.,]/);
  const whole = point < 0 ? unsigned : unsigned.slice(0, point);
  const fraction = point < 0 ? null : unsigned.slice(point + 1);
  const parts = whole.split(/[ \u00a0\u202f]/);
  if (parts.some((p) => p === "")) throw bad(whole === "" ? "no digits before the decimal point" : "spaces go only between groups of three digits");
  if (parts.length > 1 && ($sBytes(parts[0]) > 3 || parts.slice(1).some((p) => $sBytes(p) !== 3))) {
    throw bad("spaces go only between groups of three digits");
  }
  let major = 0n;
  for (const c of parts.join("")) {
    if (!(c >= "0" && c <= "9")) throw bad("use digits, an optional leading `-` and `.` or `,` before the kopecks or cents");
    major = major * 10n + BigInt(c);
    if (major > $MAX) throw bad("too large (at most 9 223 372 036 854 775 807 whole units)");
  }
  let minor = 0n;
  if (fraction !== null) {
    if (!/^[0-9]{1,2}$/.test(fraction)) throw bad("give one or two digits after the decimal point");
    minor = BigInt(fraction) * (fraction.length === 1 ? 10n : 1n);
  }
  return { negative: negative, major: major, minor: minor };
}

/* money(lang, amount, currency, style): an amount (decimal text) of RUB, USD or EUR, in
 * "words" (for speech) or "digits" (for SMS). */
function $sMoney(lang, amount, currency, style) {
  const l = $sLang(lang);
  if (style !== "words" && style !== "digits") throw new IvrcError("unknown style `" + String(style) + "`: `money` writes `words` or `digits`");
  const code = String(currency);
  const units = Object.prototype.hasOwnProperty.call($sCURRENCIES, $sUpper(code)) ? $sCURRENCIES[$sUpper(code)] : null;
  if (units === null) throw new IvrcError("unknown currency `" + code + "`: `money` knows RUB, USD and EUR");
  const a = $sAmount(String(amount));
  const words = style === "words";
  let out = a.negative && (a.major > 0n || a.minor > 0n) ? (l === "ru" ? "минус " : "minus ") : "";
  if (a.major > 0n || a.minor === 0n) out += $sUnit(l, a.major, units[0], words);
  if (a.minor > 0n) {
    if (a.major > 0n) out += l === "ru" ? " " : " and ";
    out += $sUnit(l, a.minor, units[1], words);
  }
  return out;
}

/* The Unix seconds jiff can hold (UnixEpochSeconds: years -9999..=9999 less the largest
 * offset), and 400 Gregorian years in seconds: the period of every IANA rule after the
 * zone's last explicit transition. */
const $sMIN_SECOND = -377705023201;
const $sMAX_SECOND = 253402207200;
const $sCYCLE = 12622780800;

/* Days since 1970-01-01 of a proleptic Gregorian date. */
function $sDays(year, month, day) {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400), yoe = y - era * 400;
  const doy = Math.floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1;
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
}
/* [year, month, day] of a day number since 1970-01-01. */
function $sCivil(days) {
  const z = days + 719468;
  const era = Math.floor(z / 146097), doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, doy - Math.floor((153 * mp + 2) / 5) + 1];
}
function $sLeap(y) { return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0; }

/* The Unix seconds (rounded down) of a timestamp jiff's `Timestamp::from_str` reads, or null
 * when it refuses it: the Temporal grammar (basic or extended date and time, `T`, `t` or a
 * space between, fraction up to 9 digits, second 60 read as 59, offset `Z` or ±HH[:MM[:SS
 * [.fff]]] up to 25:59:59) and RFC 9557 annotations, which a timestamp checks and ignores. */
function $sTimestamp(s) {
  if (!/^[\x00-\x7f]*$/.test(s)) return null;
  let i = 0;
  /* Reads exactly n digits at i, or gives -1. */
  const num = (n) => {
    if (i + n > s.length) return -1;
    let v = 0;
    for (let k = 0; k < n; k++) {
      const d = s.charCodeAt(i + k) - 48;
      if (d < 0 || d > 9) return -1;
      v = v * 10 + d;
    }
    i += n;
    return v;
  };
  /* Whether the next component is there: in extended form a `:` (read), in basic form two
   * digits (left to read). */
  const more = (extended) => {
    if (!extended) return /^[0-9]{2}/.test(s.slice(i, i + 2));
    if (s[i] !== ":") return false;
    i++;
    return true;
  };
  /* Reads `.` or `,` and 1 to 9 digits if there: the first digit, 0 if none, -1 if bad. */
  const fraction = () => {
    if (s[i] !== "." && s[i] !== ",") return 0;
    i++;
    const m = /^[0-9]{1,9}/.exec(s.slice(i));
    if (m === null) return -1;
    i += m[0].length;
    return m[0].charCodeAt(0) - 48;
  };
  /* The seconds of an offset after its sign, or -1; `subminute` allows seconds. */
  const offset = (subminute) => {
    const h = num(2);
    if (h < 0 || h > 25) return -1;
    const extended = s[i] === ":";
    if (!more(extended)) return h * 3600;
    const m = num(2);
    if (m < 0 || m > 59) return -1;
    if (!subminute) return s[i] === ":" ? -1 : h * 3600 + m * 60;
    if (!more(extended)) return h * 3600 + m * 60;
    const sec = num(2);
    const first = sec < 0 || sec > 59 ? -1 : fraction();
    if (first < 0) return -1;
    const total = h * 3600 + m * 60 + sec + (first >= 5 ? 1 : 0);
    return total > 93599 ? -1 : total;
  };
  /* Checks the annotations: a time zone one, then `[key=value]` ones, none critical. */
  const annotations = () => {
    const name = /^[_.A-Za-z][_.+\-0-9A-Za-z]*/;
    const component = () => {
      const m = name.exec(s.slice(i));
      if (m === null) return false;
      i += m[0].length;
      return true;
    };
    if (s[i] === "[") {
      const open = i;
      i += s[i + 1] === "!" ? 2 : 1;
      if (s[i] === "+" || s[i] === "-") {
        i++;
        if (offset(false) < 0 || s[i] !== "]") return false;
        i++;
      } else if (!component()) return false;
      else if (s[i] === "=") i = open;
      else {
        while (s[i] === "/") {
          i++;
          if (!component()) return false;
        }
        if (s[i] !== "]") return false;
        i++;
      }
    }
    const annotation = /^\[(!?)[_a-z][_\-0-9a-z]*=[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*\]/;
    while (s[i] === "[") {
      const m = annotation.exec(s.slice(i));
      if (m === null || m[1] === "!") return false;
      i += m[0].length;
    }
    return true;
  };
  const sign = s[0] === "+" || s[0] === "-" ? s[0] : "";
  if (sign !== "") i = 1;
  let year = num(sign === "" ? 4 : 6);
  if (year < 0 || year > 9999 || (sign === "-" && year === 0)) return null;
  if (sign === "-") year = -year;
  const extended = s[i] === "-";
  if (extended) i++;
  const month = num(2);
  if (month < 1 || month > 12) return null;
  if (s[i] === "-" ? !extended : extended) return null;
  if (extended) i++;
  const day = num(2);
  const length = [31, $sLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (day < 1 || day > length) return null;
  if (s[i] !== "T" && s[i] !== "t" && s[i] !== " ") return null;
  i++;
  const hour = num(2);
  if (hour < 0 || hour > 23) return null;
  let minute = 0, second = 0;
  const extendedTime = s[i] === ":";
  if (more(extendedTime)) {
    minute = num(2);
    if (minute < 0 || minute > 59) return null;
    if (more(extendedTime)) {
      second = num(2);
      if (second < 0 || second > 60 || fraction() < 0) return null;
      if (second === 60) second = 59;
    }
  }
  let shift;
  if (s[i] === "Z" || s[i] === "z") {
    i++;
    shift = 0;
  } else if (s[i] === "+" || s[i] === "-") {
    const negative = s[i] === "-";
    i++;
    shift = offset(true);
    if (shift < 0) return null;
    if (negative) shift = -shift;
  } else return null;
  if (!annotations() || i !== s.length) return null;
  const t = $sDays(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - shift;
  return t < $sMIN_SECOND || t > $sMAX_SECOND ? null : t;
}

/* The rules of a time zone: { o: offsets in seconds (before the first transition, then after
 * each), t: the transitions in Unix seconds, c: where the 400-year cycle starts that repeats
 * for ever after } — from $sZones (`ivrc::speech::zone_table`) for an IANA name, in any
 * letter case; built here for `UTC`, `Z` and fixed offsets up to 18 hours (±H, ±HH, ±HHMM,
 * ±HH:MM). A name the scenario was not built with is unknown, as an unknown name. */
function $sZone(zone) {
  const raw = String(zone);
  const text = $sTrim(raw);
  const unknown = () => new IvrcError("unknown time zone `" + raw + "`: give an IANA name (`Europe/Moscow`) or an offset (`+03:00`, `UTC`)");
  if ($sLower(text) === "utc" || text === "Z") return { o: [0], t: [], c: 0 };
  if (text[0] !== "+" && text[0] !== "-") {
    const key = $sLower(text);
    if (Object.prototype.hasOwnProperty.call($sZones, key)) return $sZones[key];
    throw unknown();
  }
  const body = text.slice(1);
  const colon = body.indexOf(":");
  const hours = colon >= 0 ? body.slice(0, colon) : body.length === 4 ? body.slice(0, 2) : body;
  const minutes = colon >= 0 ? body.slice(colon + 1) : body.length === 4 ? body.slice(2) : "0";
  if (!/^[0-9]{1,2}$/.test(hours) || !/^[0-9]{1,2}$/.test(minutes)) throw unknown();
  const h = Number(hours), m = Number(minutes);
  if (h > 18 || m > 59) throw unknown();
  return { o: [(text[0] === "-" ? -1 : 1) * (h * 3600 + m * 60)], t: [], c: 0 };
}
/* The UTC offset in seconds of `rules` (see $sZone) at Unix second `t`. */
function $sOffsetAt(rules, t) {
  const x = t >= rules.c + $sCYCLE ? t - Math.floor((t - rules.c) / $sCYCLE) * $sCYCLE : t;
  let lo = 0, hi = rules.t.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rules.t[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return rules.o[lo];
}
/* The wall clock of `when` in `zone` (when.rs `zoned`): [year, month, day, hour, minute]. */
function $sLocal(when, zone) {
  const raw = String(when);
  const text = $sTrim(raw);
  let t = null;
  if (text !== "" && /^-*[0-9]*$/.test(text)) {
    if (/^-?[0-9]+$/.test(text)) {
      const n = BigInt(text);
      if (n >= BigInt($sMIN_SECOND) && n <= BigInt($sMAX_SECOND)) t = Number(n);
    }
  } else t = $sTimestamp(text);
  if (t === null) {
    throw new IvrcError("cannot read the time `" + raw + "`: give an RFC 3339 timestamp with an offset (`2026-12-05T14:05:00+03:00`, `…Z`) or Unix seconds");
  }
  const local = t + $sOffsetAt($sZone(zone), t);
  const days = Math.floor(local / 86400), second = local - days * 86400;
  return $sCivil(days).concat([Math.floor(second / 3600), Math.floor(second % 3600 / 60)]);
}

const $sRU_MONTHS = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"];
const $sEN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/* date(lang, when, zone): the calendar date of `when` (RFC 3339 text, or Unix seconds as
 * text or BigInt) in `zone` (IANA name or fixed offset). */
function $sDate(lang, when, zone) {
  const l = $sLang(lang);
  const [year, month, day] = $sLocal(when, zone);
  if (l === "ru") return day + " " + $sRU_MONTHS[month - 1] + " " + year + " года";
  return $sEN_MONTHS[month - 1] + " " + day + ", " + year;
}

/* time(lang, when, zone): the wall-clock time of `when` in `zone`, read as $sDate reads them:
 * 24 hours in Russian, 12 with AM/PM in English. */
function $sTime(lang, when, zone) {
  const l = $sLang(lang);
  const local = $sLocal(when, zone);
  const hour = local[3], minute = (local[4] < 10 ? "0" : "") + local[4];
  if (l === "ru") return hour + ":" + minute;
  return (hour % 12 === 0 ? 12 : hour % 12) + ":" + minute + (hour < 12 ? " AM" : " PM");
}

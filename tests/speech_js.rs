//! The JavaScript speech helpers that VoxEngine scenarios carry
//! (src/codegen/voximplant/speech.js) against the Rust library `ivrc::speech`, byte for
//! byte: many thousands of generated calls (every n in -2000..=2000 and seeded values across
//! the 64-bit range in every gender and case, every plural class, digit strings in every
//! group pattern, money amounts, moments around every DST change of several zones and
//! across jiff's whole range, and bad input of each kind) go through both, and each text or
//! error message must be the same. Node runs the JavaScript (tests/js/speech_diff.mjs).

use std::path::{Path, PathBuf};
use std::process::Command;

use ivrc::speech::{self, Case, Gender, Lang, SpeechError, Style};
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;
use serde_json::{json, Value};

/// Whether node runs; under CI its absence fails the test, elsewhere the test is skipped
/// with the reason printed.
fn node_available() -> bool {
    let ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "node is required for the speech differential test under CI; run scripts/setup.sh"
        );
        println!("skipped: node is not installed (scripts/setup.sh installs it)");
    }
    ok
}

/// A seeded pseudo-random source (SplitMix64): the same calls on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (> 0).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("small")
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// An `i64` whose magnitude has a random number of bits, so small numbers are as likely
    /// as huge ones.
    fn int(&mut self) -> i64 {
        let bits = self.below(64);
        let raw = self.next() as i64;
        raw >> bits
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(i128::from(hi) - i128::from(lo) + 1).expect("span");
        lo + i64::try_from(self.next() % span).expect("offset")
    }
}

/// The calls and what Rust says for each.
#[derive(Default)]
struct Calls {
    calls: Vec<Value>,
    expected: Vec<Result<String, String>>,
}

/// A BigInt argument as the driver reads it.
fn big(n: i64) -> Value {
    json!({ "n": n.to_string() })
}

impl Calls {
    fn push(&mut self, f: &str, args: Vec<Value>, result: Result<String, SpeechError>) {
        self.calls.push(json!({ "f": f, "a": args }));
        self.expected.push(result.map_err(|e| e.to_string()));
    }

    fn plural(&mut self, lang: &str, n: i64, forms: &[&str]) {
        let result = lang
            .parse::<Lang>()
            .and_then(|l| speech::plural(l, n, forms).map(str::to_string));
        self.push("plural", vec![json!(lang), big(n), json!(forms)], result);
    }

    fn words(&mut self, lang: &str, n: i64, gender: &str, case: &str) {
        let result = (|| {
            let l: Lang = lang.parse()?;
            let g: Gender = gender.parse()?;
            let c: Case = case.parse()?;
            Ok(speech::words(l, n, g, c))
        })();
        self.push(
            "words",
            vec![json!(lang), big(n), json!(gender), json!(case)],
            result,
        );
    }

    fn digits(&mut self, text: &str, groups: &[usize]) {
        let result = speech::digits(text, groups);
        self.push("digits", vec![json!(text), json!(groups)], result);
    }

    fn money(&mut self, lang: &str, amount: &str, currency: &str, style: &str) {
        let how = if style == "words" {
            Style::Words
        } else {
            Style::Digits
        };
        let result = lang
            .parse::<Lang>()
            .and_then(|l| speech::money(l, amount, currency, how));
        self.push(
            "money",
            vec![json!(lang), json!(amount), json!(currency), json!(style)],
            result,
        );
    }

    /// `date` and `time` of `when` in `zone`, in both languages; `as_big` passes Unix
    /// seconds as a BigInt instead of text.
    fn moment(&mut self, when: &str, zone: &str, as_big: Option<i64>) {
        let arg = as_big.map_or_else(|| json!(when), big);
        for lang in ["ru", "en"] {
            let l: Lang = lang.parse().expect("lang");
            let date = speech::date(l, when, zone);
            self.push("date", vec![json!(lang), arg.clone(), json!(zone)], date);
            let time = speech::time(l, when, zone);
            self.push("time", vec![json!(lang), arg.clone(), json!(zone)], time);
        }
    }
}

const GENDERS: [&str; 3] = ["masculine", "feminine", "neuter"];
const CASES: [&str; 6] = [
    Case::ALL[0].name(),
    Case::ALL[1].name(),
    Case::ALL[2].name(),
    Case::ALL[3].name(),
    Case::ALL[4].name(),
    Case::ALL[5].name(),
];

/// Numbers across the range: every n in -2000..=2000, ±10^k and its neighbours, the ends of
/// i64, and seeded values of every magnitude.
fn numbers(rng: &mut Rng, random: usize) -> Vec<i64> {
    let mut all: Vec<i64> = (-2000..=2000).collect();
    let mut power: i64 = 1;
    for _ in 0..19 {
        for n in [power - 1, power, power + 1] {
            all.extend([n, -n]);
        }
        power = power.saturating_mul(10);
    }
    all.extend([i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1]);
    all.extend((0..random).map(|_| rng.int()));
    all
}

fn plural_and_words(calls: &mut Calls, rng: &mut Rng) {
    for n in numbers(rng, 3000) {
        calls.plural("ru", n, &["рубль", "рубля", "рублей"]);
        calls.plural("en-US", n, &["dollar", "dollars"]);
        calls.words("en", n, rng.pick(&GENDERS), rng.pick(&CASES));
        if (-2000..=2000).contains(&n) || rng.below(8) == 0 {
            for gender in GENDERS {
                for case in CASES {
                    calls.words("ru", n, gender, case);
                }
            }
        } else {
            for _ in 0..3 {
                calls.words("ru-RU", n, rng.pick(&GENDERS), rng.pick(&CASES));
            }
        }
    }
    let langs = [
        "ru", "RU", "ru-RU", "Ru_ru", "en", "EN-gb", "en_US", "de-DE", "", "-", "r", "ру", "ſu",
        "english", "ru ", " en",
    ];
    for lang in langs {
        for forms in [
            &[][..],
            &["one"][..],
            &["one", "other"][..],
            &["one", "few", "many"][..],
            &["a", "b", "c", "d"][..],
        ] {
            calls.plural(lang, 21, forms);
        }
        calls.words(lang, 21, "f", "genitive");
    }
    for gender in ["m", "f", "n", "male", "Feminine", "", "neutral"] {
        for case in ["accusative", "Accusative", "locative", "", "nominativ"] {
            calls.words("ru", 2, gender, case);
            calls.words("en", -1, gender, case);
        }
    }
}

fn digits(calls: &mut Calls, rng: &mut Rng) {
    let patterns: [&[usize]; 11] = [
        &[],
        &[1],
        &[2],
        &[3],
        &[4, 3, 2],
        &[1, 3, 3, 2],
        &[10],
        &[2, 2, 2, 2, 2, 2],
        &[3, 0],
        &[0],
        &[usize::MAX],
    ];
    let fixed = [
        "89161112233",
        "+7 (916) 111-22-33",
        "123456",
        "",
        " ",
        "+-().",
        "1",
        "12a3",
        "１２３",
        "١٢٣",
        "😀1",
        "1\u{85}2",
        "1\u{feff}2",
        "1\u{1c}2",
        "1\u{180e}2",
        "1\u{3000}2\u{2028}3",
        "1\t2\n3\r4",
        "1_2",
        "1/2",
        "1,2",
    ];
    let alphabet: Vec<char> =
        "0123456789000111222333444555666777888999 +-().\t\u{a0}\u{202f}\u{85}\u{feff}#*xЖ😀,"
            .chars()
            .collect();
    let mut texts: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
    for _ in 0..1500 {
        let len = rng.below(24);
        let clean = rng.below(3) > 0;
        let text: String = (0..len)
            .map(|_| {
                let c = rng.pick(&alphabet);
                if clean && !(c.is_ascii_digit() || c == ' ' || c == '-') {
                    '5'
                } else {
                    c
                }
            })
            .collect();
        texts.push(text);
    }
    for text in &texts {
        for groups in patterns {
            calls.digits(text, groups);
        }
    }
}

fn money(calls: &mut Calls, rng: &mut Rng) {
    let mut amounts: Vec<String> = [
        "1234.5",
        "1234.50",
        "1 234,50",
        "21.01",
        "1.02",
        "0.05",
        "-3",
        "0",
        "-0",
        "-0.00",
        "0.00",
        "0,1",
        "9223372036854775807",
        "9223372036854775807.99",
        "9 223 372 036 854 775 807",
        "9223372036854775808",
        "-9223372036854775808",
        "99999999999999999999999",
        "1,234.50",
        "12 34",
        "1234 567",
        " 1234 ",
        "\u{85}12\u{3000}",
        "\u{feff}12",
        "1\u{a0}234",
        "1\u{202f}234\u{a0}567",
        "1  234",
        " 1 234",
        "é 123",
        "éé 123",
        "ééé",
        "é",
        ".5",
        ",5",
        "5.",
        "5.123",
        "5.+1",
        "5.-1",
        "5.١",
        "--5",
        "+5",
        "",
        "-",
        " ",
        "1e3",
        "١٢٣",
        "1.2.3",
        "1,2.3",
        "12 345 678.9",
        "- 5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for _ in 0..1500 {
        let major = rng.int().unsigned_abs() >> rng.below(64);
        let mut whole = major.to_string();
        if rng.below(3) == 0 {
            let digits: Vec<char> = whole.chars().collect();
            whole = digits
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i > 0 && (digits.len() - i) % 3 == 0 {
                        format!("{}{c}", rng.pick(&[" ", "\u{a0}", "\u{202f}"]))
                    } else {
                        c.to_string()
                    }
                })
                .collect();
        }
        let sign = if rng.below(5) == 0 { "-" } else { "" };
        let fraction = match rng.below(5) {
            0 => String::new(),
            1 => format!(".{}", rng.below(10)),
            2 => format!(",{:02}", rng.below(100)),
            3 => format!(".{:02}", rng.below(100)),
            _ => format!(".{}", rng.below(1000)),
        };
        let mut amount = format!("{sign}{whole}{fraction}");
        if rng.below(6) == 0 {
            mutate(&mut amount, rng, " .,-0123456789a\u{a0}é");
        }
        amounts.push(amount);
    }
    let currencies = [
        "RUB", "USD", "EUR", "rub", "Usd", "eUR", "GBP", "", "RUBX", "uſd",
    ];
    for (k, amount) in amounts.iter().enumerate() {
        for lang in ["ru", "en"] {
            for style in ["words", "digits"] {
                calls.money(lang, amount, currencies[k % 3], style);
            }
        }
        calls.money("ru", amount, rng.pick(&currencies), "digits");
    }
    for currency in currencies {
        calls.money("en", "1.01", currency, "words");
        calls.money("de", "1.01", currency, "words");
    }
}

/// Changes `text` at one random place: a character deleted, replaced or inserted from
/// `alphabet`.
fn mutate(text: &mut String, rng: &mut Rng, alphabet: &str) {
    let mut chars: Vec<char> = text.chars().collect();
    let extra: Vec<char> = alphabet.chars().collect();
    let at = rng.below(chars.len() + 1);
    match rng.below(3) {
        0 if at < chars.len() => {
            chars.remove(at);
        }
        1 if at < chars.len() => chars[at] = rng.pick(&extra),
        _ => chars.insert(at, rng.pick(&extra)),
    }
    *text = chars.into_iter().collect();
}

/// The zones the moments are said in: DST in both hemispheres, half-hour DST, a skipped
/// day, Morocco's explicit transitions to 2087, fixed offsets and bad names.
const ZONES: [&str; 14] = [
    "America/New_York",
    "Europe/London",
    "Europe/Moscow",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Africa/Casablanca",
    "Pacific/Apia",
    "UTC",
    "+03:00",
    "-0530",
    "Etc/GMT+5",
    "america/new_york",
    " Europe/London ",
];

/// Zone texts that are only read, never looked up in a table: odd offsets and bad names.
const ODD_ZONES: [&str; 24] = [
    "utc",
    "Z",
    "z",
    "+3",
    "-18",
    "+18:00",
    "+19",
    "+05:60",
    "+1:2:3",
    "+",
    "-",
    "",
    "+3:",
    "+:30",
    "+0530x",
    "+٣",
    "Mars/Olympus",
    "Europe/Moscow/",
    "../etc",
    "__proto__",
    "constructor",
    "EST5EDT",
    "US/Eastern",
    "europe/MOSCOW",
];

/// `t` written as RFC 3339 (or its Temporal relatives jiff reads) at offset `shift`, in a
/// random one of several forms.
fn written(t: i64, shift: i32, rng: &mut Rng) -> String {
    let offset = Offset::from_seconds(shift).expect("offset");
    let local = Timestamp::from_second(t)
        .expect("in range")
        .to_zoned_datetime(TimeZone::fixed(offset));
    let year = i32::from(local.year());
    let (mo, d, h, mi, s) = (
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second(),
    );
    let extended = rng.below(4) > 0;
    let year_text = if (0..=9999).contains(&year) && rng.below(8) > 0 {
        format!("{year:04}")
    } else {
        format!("{}{:06}", if year < 0 { '-' } else { '+' }, year.abs())
    };
    let date = if extended {
        format!("{year_text}-{mo:02}-{d:02}")
    } else {
        format!("{year_text}{mo:02}{d:02}")
    };
    let sep = rng.pick(&["T", "T", "t", " "]);
    let colon = if extended { ":" } else { "" };
    let fraction = match rng.below(6) {
        0 => format!(".{}", rng.below(10)),
        1 => format!(",{:09}", rng.below(1_000_000_000)),
        _ => String::new(),
    };
    let clock = if s == 0 && fraction.is_empty() && rng.below(3) == 0 {
        format!("{h:02}{colon}{mi:02}")
    } else {
        format!("{h:02}{colon}{mi:02}{colon}{s:02}{fraction}")
    };
    let sign = if shift < 0 { '-' } else { '+' };
    let (oh, om, os) = (shift.abs() / 3600, shift.abs() / 60 % 60, shift.abs() % 60);
    let zone = if shift == 0 && rng.below(2) == 0 {
        rng.pick(&["Z", "z"]).to_string()
    } else if os != 0 {
        format!("{sign}{oh:02}{colon}{om:02}{colon}{os:02}")
    } else if om == 0 && rng.below(3) == 0 {
        format!("{sign}{oh:02}")
    } else {
        format!("{sign}{oh:02}{colon}{om:02}")
    };
    let annotation = match rng.below(10) {
        0 => "[America/New_York]",
        1 => "[!Europe/Moscow][u-ca=gregory]",
        2 => "[+03:00]",
        3 => "[foo=bar-baz]",
        _ => "",
    };
    format!("{date}{sep}{clock}{zone}{annotation}")
}

fn moments(calls: &mut Calls, rng: &mut Rng) {
    const MIN: i64 = -377_705_023_201;
    const MAX: i64 = 253_402_207_200;
    let mut instants: Vec<i64> = vec![MIN, MIN + 1, MAX, MAX - 1, 0, -1, 1, 1_796_468_700];
    for zone in ["America/New_York", "Europe/London", "Europe/Moscow"] {
        let tz = TimeZone::get(zone).expect("zone");
        let start = Timestamp::from_second(-2_208_988_800).expect("1900");
        for change in tz.following(start).take(600) {
            let t = change.timestamp().as_second();
            instants.extend([t - 3601, t - 1, t, t + 1, t + 1800, t + 3600]);
        }
    }
    for _ in 0..1500 {
        instants.push(rng.between(MIN, MAX));
        instants.push(rng.between(-2_208_988_800, 7_258_118_400));
    }
    let shifts = [
        0,
        3 * 3600,
        -5 * 3600,
        5 * 3600 + 1800,
        -(9 * 3600 + 30 * 60 + 15),
    ];
    let mut texts = Vec::new();
    for (k, &t) in instants.iter().enumerate() {
        let zone = ZONES[k % ZONES.len()];
        calls.moment(&t.to_string(), zone, None);
        if k % 3 == 0 {
            calls.moment(&t.to_string(), zone, Some(t));
        }
        let shift = rng.pick(&shifts);
        // Written with an offset, the moment must stay within jiff's civil range.
        if (MIN + 100_000..=MAX - 100_000).contains(&t) {
            let text = written(t, shift, rng);
            calls.moment(&text, ZONES[(k + 5) % ZONES.len()], None);
            texts.push(text);
        }
    }
    let alphabet = "0123456789-+:TtZz .,[]!=/_aZW\u{85}é";
    for text in texts.iter().take(3000) {
        let mut bad = text.clone();
        mutate(&mut bad, rng, alphabet);
        if rng.below(3) == 0 {
            mutate(&mut bad, rng, alphabet);
        }
        calls.moment(&bad, "Europe/Moscow", None);
    }
    let fixed = [
        "2026-12-05T14:05:00+03:00",
        "2026-11-01T06:30:00Z",
        "2026-12-05",
        "2026-12-05T14:05",
        "2026-02-29T00:00Z",
        "2024-02-29T00:00Z",
        "1900-02-29T00:00Z",
        "2000-02-29T00:00Z",
        "2026-12-05T24:00Z",
        "2026-12-05T23:59:60Z",
        "2026-12-05T23:59:60.999Z",
        "2026-12-05T14:05:00+25:59:59.4",
        "2026-12-05T14:05:00+25:59:59.5",
        "2026-12-05T14:05:00+26",
        "2026-12-05T14:05:00+05:3000",
        "2026-12-05T14:05:00.1234567891Z",
        "2026-12-05T14:05:00.Z",
        "2026-12-05T14:05:00+03:00[Europe/Moscow]",
        "2026-12-05T14:05:00+03:00[!Europe/Moscow]",
        "2026-12-05T14:05:00+03:00[+03:00:00]",
        "2026-12-05T14:05:00+03:00[+0300]",
        "2026-12-05T14:05:00+03:00[!u-ca=gregory]",
        "2026-12-05T14:05:00+03:00[u-ca=]",
        "2026-12-05T14:05:00+03:00[u-ca=a-]",
        "2026-12-05T14:05:00+03:00[a/b=c]",
        "2026-12-05T14:05:00+03:00[Foo=bar]",
        "2026-12-05T14:05:00+03:00[foo=bar][Europe/Moscow]",
        "2026-12-05T14:05:00+03:00[]",
        "2026-12-05T14:05:00+03:00[Europe/]",
        "2026-12-05T14:05:00+03:00 ",
        "-000000-01-01T00:00Z",
        "+000000-01-01T00:00Z",
        "+010000-01-01T00:00Z",
        "-009999-01-01T00:00+25",
        "-009999-01-01T00:00Z",
        "-009999-01-02T02:00Z",
        "9999-12-31T23:59:59-25",
        "9999-12-30T22:00:00Z",
        "9999-12-30T23:59:59Z",
        "2026-1205T14:05Z",
        "202612-05T14:05Z",
        "20261205T1405Z",
        "20261205T140500.5+0300",
        "20261205T14:05Z",
        "2026-12-05T1405Z",
        "2026-12-05T14:0500Z",
        "2026-12-05T14Z",
        "2026-12-05T14+03",
        "2026-12-05t14:05z",
        "2026-12-05 14:05Z",
        "2026-12-05  14:05Z",
        "2026-W49-6T14:05Z",
        "1e9",
        "--5",
        "-",
        "",
        " ",
        " 1796468700 ",
        "+1796468700",
        "1796468700.5",
        "17964687001234567890",
        "-9223372036854775808",
        "-377705023201",
        "-377705023202",
        "253402207200",
        "253402207201",
        "0001796468700",
        "-0",
        "١٧٩٦٤٦٨٧٠٠",
        "\u{85}1796468700\u{3000}",
        "\u{feff}1796468700",
    ];
    for text in fixed {
        for zone in ["Europe/Moscow", "America/New_York", "-0530"] {
            calls.moment(text, zone, None);
        }
    }
    for zone in ODD_ZONES {
        calls.moment("2026-03-08T07:30:00Z", zone, None);
        calls.moment("1796468700", zone, None);
    }
}

#[test]
fn javascript_helpers_say_what_rust_says() {
    if !node_available() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut rng = Rng(19);
    let mut calls = Calls::default();
    plural_and_words(&mut calls, &mut rng);
    digits(&mut calls, &mut rng);
    money(&mut calls, &mut rng);
    moments(&mut calls, &mut rng);

    // The table a scenario gets: every zone it names that jiff knows.
    let named = ZONES.iter().chain(&ODD_ZONES).copied();
    let known = named.filter(|z| speech::date(Lang::En, "0", z).is_ok());
    let zones = speech::zone_table(known).expect("the zones are known");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("speech_js");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let calls_path = dir.join("calls.json");
    let zones_path = dir.join("zones.json");
    std::fs::write(
        &calls_path,
        serde_json::to_string(&calls.calls).expect("json"),
    )
    .expect("calls written");
    std::fs::write(&zones_path, serde_json::to_string(&zones).expect("json"))
        .expect("zones written");
    let out = Command::new("node")
        .arg(root.join("tests/js/speech_diff.mjs"))
        .arg(root.join("src/codegen/voximplant/runtime.js"))
        .arg(root.join("src/codegen/voximplant/speech.js"))
        .arg(&zones_path)
        .arg(&calls_path)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "speech_diff.mjs failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).expect("results are JSON");
    assert_eq!(results.len(), calls.calls.len(), "one result per call");

    let mut counts: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut differences = Vec::new();
    for ((call, expected), got) in calls.calls.iter().zip(&calls.expected).zip(&results) {
        let name = call["f"].as_str().unwrap_or_default().to_string();
        let count = counts.entry(name).or_default();
        match expected {
            Ok(_) => count.0 += 1,
            Err(_) => count.1 += 1,
        }
        let same = match expected {
            Ok(text) => got["ok"].as_str() == Some(text.as_str()),
            Err(message) => got["err"].as_str() == Some(message.as_str()),
        };
        if !same {
            differences.push(format!("{call}\n  rust: {expected:?}\n  js:   {got}"));
        }
    }
    for (name, (ok, err)) in &counts {
        println!("{name}: {ok} texts and {err} errors compared");
    }
    println!("{} calls compared in all", calls.calls.len());
    assert!(
        differences.is_empty(),
        "{} of {} calls differ; the first:\n{}",
        differences.len(),
        calls.calls.len(),
        differences[..differences.len().min(25)].join("\n")
    );
    assert!(calls.calls.len() > 100_000, "too few calls");
}

//! The speech helpers (issue 19) on hand-picked cases: plural classes, numbers in every case,
//! digits, money, dates and times across DST changes, the errors a flow author sees, and no
//! panic on any input. Number words over a large sample are checked in speech_oracle.rs.

use ivrc::speech::{
    date, digits, money, plural, time, words, Case, Gender, Lang, SpeechError, Style,
};
use proptest::prelude::*;

const RU: Lang = Lang::Ru;
const EN: Lang = Lang::En;

#[test]
fn languages_are_read_from_bcp_47_tags() {
    for (tag, lang) in [
        ("ru", RU),
        ("ru-RU", RU),
        ("RU_ru", RU),
        ("en", EN),
        ("en-US", EN),
        ("en-GB", EN),
    ] {
        assert_eq!(tag.parse::<Lang>(), Ok(lang), "{tag}");
    }
    let err = "de-DE".parse::<Lang>().unwrap_err();
    assert_eq!(err, SpeechError::UnknownLanguage("de-DE".into()));
    assert!(err.to_string().contains("`ru-RU`, `en-US`"), "{err}");
    assert_eq!("f".parse::<Gender>(), Ok(Gender::Feminine));
    assert_eq!("neuter".parse::<Gender>(), Ok(Gender::Neuter));
    assert!("female".parse::<Gender>().is_err());
    let cases: Vec<Case> = [
        "nominative",
        "genitive",
        "dative",
        "accusative",
        "instrumental",
        "prepositional",
    ]
    .iter()
    .map(|c| c.parse().unwrap())
    .collect();
    assert_eq!(cases, Case::ALL);
    assert!("ablative"
        .parse::<Case>()
        .unwrap_err()
        .to_string()
        .contains("prepositional"));
}

#[test]
fn russian_plural_classes() {
    let forms = ["рубль", "рубля", "рублей"];
    for (n, want) in [
        (1, "рубль"),
        (21, "рубль"),
        (101, "рубль"),
        (1001, "рубль"),
        (-1, "рубль"),
        (2, "рубля"),
        (4, "рубля"),
        (22, "рубля"),
        (24, "рубля"),
        (-3, "рубля"),
        (102, "рубля"),
        (0, "рублей"),
        (5, "рублей"),
        (11, "рублей"),
        (12, "рублей"),
        (14, "рублей"),
        (20, "рублей"),
        (111, "рублей"),
        (112, "рублей"),
        (i64::MIN, "рублей"),
        (i64::MAX, "рублей"),
    ] {
        assert_eq!(plural(RU, n, &forms), Ok(want), "{n}");
    }
}

#[test]
fn english_plural_classes() {
    for (n, want) in [
        (1, "dollar"),
        (-1, "dollar"),
        (0, "dollars"),
        (2, "dollars"),
        (21, "dollars"),
    ] {
        assert_eq!(plural(EN, n, &["dollar", "dollars"]), Ok(want), "{n}");
    }
}

#[test]
fn plural_form_counts_are_checked() {
    let err = plural(RU, 1, &["рубль", "рубля"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Russian `plural` takes 3 forms (one, few, many: рубль, рубля, рублей), got 2"
    );
    assert!(plural(EN, 1, &["a", "b", "c"]).is_err());
    assert!(plural(EN, 1, &[]).is_err());
}

#[test]
fn russian_words_agree_in_gender_and_case() {
    let w = |n, g, c| words(RU, n, g, c);
    use Case::*;
    use Gender::*;
    assert_eq!(w(0, Masculine, Nominative), "ноль");
    assert_eq!(w(1, Feminine, Nominative), "одна");
    assert_eq!(w(1, Neuter, Nominative), "одно");
    assert_eq!(w(2, Feminine, Nominative), "две");
    assert_eq!(w(2, Neuter, Nominative), "два");
    assert_eq!(w(21, Feminine, Genitive), "двадцати одной");
    assert_eq!(w(21, Feminine, Accusative), "двадцать одну");
    assert_eq!(w(125, Masculine, Genitive), "ста двадцати пяти");
    assert_eq!(w(1000, Masculine, Nominative), "одна тысяча");
    assert_eq!(w(1000, Masculine, Accusative), "одну тысячу");
    assert_eq!(w(2000, Masculine, Nominative), "две тысячи");
    assert_eq!(w(5000, Masculine, Instrumental), "пятью тысячами");
    assert_eq!(w(21000, Masculine, Dative), "двадцати одной тысяче");
    assert_eq!(w(248, Masculine, Instrumental), "двумястами сорока восемью");
    assert_eq!(w(890, Feminine, Prepositional), "восьмистах девяноста");
    assert_eq!(w(2_000_001, Feminine, Nominative), "два миллиона одна");
    assert_eq!(w(-15, Masculine, Nominative), "минус пятнадцать");
    assert_eq!(
        w(i64::MIN, Masculine, Nominative),
        "минус девять квинтиллионов двести двадцать три квадриллиона триста семьдесят два \
         триллиона тридцать шесть миллиардов восемьсот пятьдесят четыре миллиона семьсот \
         семьдесят пять тысяч восемьсот восемь"
    );
}

#[test]
fn english_words_are_american() {
    let w = |n| words(EN, n, Gender::Masculine, Case::Genitive);
    assert_eq!(w(0), "zero");
    assert_eq!(w(125), "one hundred twenty-five");
    assert_eq!(w(-1005), "minus one thousand five");
    assert_eq!(w(1_000_000), "one million");
    assert_eq!(
        w(i64::MAX),
        "nine quintillion two hundred twenty-three quadrillion three hundred seventy-two \
         trillion thirty-six billion eight hundred fifty-four million seven hundred seventy-five \
         thousand eight hundred seven"
    );
}

#[test]
fn digits_are_read_one_by_one_in_groups() {
    assert_eq!(
        digits("89161112233", &[4, 3, 2]).unwrap(),
        "8 9 1 6, 1 1 1, 2 2, 3 3"
    );
    assert_eq!(
        digits("+7 (916) 111-22-33", &[1, 3, 3, 2]).unwrap(),
        "7, 9 1 6, 1 1 1, 2 2, 3 3"
    );
    assert_eq!(digits("123456", &[3]).unwrap(), "1 2 3, 4 5 6");
    assert_eq!(digits("1234", &[3]).unwrap(), "1 2 3, 4");
    assert_eq!(digits("0042", &[]).unwrap(), "0 0 4 2");
    assert_eq!(digits("12a", &[]), Err(SpeechError::NotADigit('a')));
    assert_eq!(digits("٣", &[]), Err(SpeechError::NotADigit('٣')));
    assert_eq!(digits(" - ", &[]), Err(SpeechError::NoDigits));
    assert_eq!(digits("12", &[2, 0]), Err(SpeechError::EmptyGroup));
}

#[test]
fn money_in_russian() {
    let m = |a, c| money(RU, a, c, Style::Digits).unwrap();
    assert_eq!(m("1234.5", "RUB"), "1 234 рубля 50 копеек");
    assert_eq!(m("1 234,50", "rub"), "1 234 рубля 50 копеек");
    assert_eq!(m("1", "RUB"), "1 рубль");
    assert_eq!(m("0.05", "RUB"), "5 копеек");
    assert_eq!(m("0", "RUB"), "0 рублей");
    assert_eq!(m("-0.00", "RUB"), "0 рублей");
    assert_eq!(m("-3", "RUB"), "минус 3 рубля");
    assert_eq!(m("21.01", "USD"), "21 доллар 1 цент");
    assert_eq!(m("1000000", "EUR"), "1 000 000 евро");
    let w = |a, c| money(RU, a, c, Style::Words).unwrap();
    assert_eq!(
        w("1234.5", "RUB"),
        "одна тысяча двести тридцать четыре рубля пятьдесят копеек"
    );
    assert_eq!(w("2.21", "RUB"), "два рубля двадцать одна копейка");
    assert_eq!(w("1.02", "EUR"), "одно евро два цента");
}

#[test]
fn money_in_english() {
    let m = |a, c| money(EN, a, c, Style::Digits).unwrap();
    assert_eq!(m("1234.5", "USD"), "1,234 dollars and 50 cents");
    assert_eq!(m("1", "USD"), "1 dollar");
    assert_eq!(m("0.01", "EUR"), "1 cent");
    assert_eq!(m("-2", "EUR"), "minus 2 euros");
    assert_eq!(m("5.05", "RUB"), "5 rubles and 5 kopecks");
    assert_eq!(
        money(EN, "21.5", "USD", Style::Words).unwrap(),
        "twenty-one dollars and fifty cents"
    );
}

#[test]
fn money_refuses_what_it_cannot_read() {
    for amount in [
        "",
        "1,234.50",
        "1.234",
        "1.",
        ".5",
        "12 34",
        "1 2345",
        "1e3",
        "+5",
        "--1",
        "9223372036854775808",
        "1,5,0",
    ] {
        let err = money(RU, amount, "RUB", Style::Digits).unwrap_err();
        assert!(
            matches!(err, SpeechError::BadAmount { .. }),
            "{amount:?}: {err}"
        );
    }
    assert_eq!(
        money(RU, "9 223 372 036 854 775 807.99", "RUB", Style::Digits).unwrap(),
        "9 223 372 036 854 775 807 рублей 99 копеек"
    );
    let err = money(RU, "1", "GBP", Style::Digits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown currency `GBP`: `money` knows RUB, USD and EUR"
    );
}

#[test]
fn dates_and_times_in_a_zone() {
    let when = "2026-12-05T14:05:00+03:00";
    assert_eq!(
        date(RU, when, "Europe/Moscow").unwrap(),
        "5 декабря 2026 года"
    );
    assert_eq!(time(RU, when, "Europe/Moscow").unwrap(), "14:05");
    assert_eq!(date(EN, when, "Europe/Moscow").unwrap(), "December 5, 2026");
    assert_eq!(time(EN, when, "Europe/Moscow").unwrap(), "2:05 PM");
    // Late in the evening UTC is the next day in Moscow.
    assert_eq!(
        date(RU, "2026-12-05T22:30:00Z", "Europe/Moscow").unwrap(),
        "6 декабря 2026 года"
    );
    assert_eq!(
        time(RU, "2026-12-05T22:30:00Z", "Europe/Moscow").unwrap(),
        "1:30"
    );
    // Unix seconds and fixed offsets.
    assert_eq!(date(EN, "0", "UTC").unwrap(), "January 1, 1970");
    assert_eq!(time(EN, "0", "UTC").unwrap(), "12:00 AM");
    assert_eq!(time(EN, "43200", "Z").unwrap(), "12:00 PM");
    assert_eq!(time(RU, "0", "+05:30").unwrap(), "5:30");
    assert_eq!(time(RU, "0", "-0330").unwrap(), "20:30");
    assert_eq!(time(RU, "0", "+3").unwrap(), "3:00");
    assert_eq!(date(RU, "-1", "UTC").unwrap(), "31 декабря 1969 года");
}

#[test]
fn times_follow_daylight_saving_changes() {
    let ny = "America/New_York";
    // 8 March 2026, 2:00 EST → 3:00 EDT (07:00 UTC).
    assert_eq!(time(EN, "2026-03-08T06:59:00Z", ny).unwrap(), "1:59 AM");
    assert_eq!(time(EN, "2026-03-08T07:00:00Z", ny).unwrap(), "3:00 AM");
    // 1 November 2026, 2:00 EDT → 1:00 EST (06:00 UTC): 1:30 happens twice.
    assert_eq!(time(EN, "2026-11-01T05:30:00Z", ny).unwrap(), "1:30 AM");
    assert_eq!(time(EN, "2026-11-01T06:30:00Z", ny).unwrap(), "1:30 AM");
    assert_eq!(time(EN, "2026-11-01T07:30:00Z", ny).unwrap(), "2:30 AM");
    // Moscow keeps +03:00 all year; Kolkata +05:30.
    assert_eq!(
        time(RU, "2026-01-15T12:00:00Z", "Europe/Moscow").unwrap(),
        "15:00"
    );
    assert_eq!(
        time(RU, "2026-07-15T12:00:00Z", "Europe/Moscow").unwrap(),
        "15:00"
    );
    assert_eq!(
        time(RU, "2026-07-15T12:00:00Z", "Asia/Kolkata").unwrap(),
        "17:30"
    );
}

#[test]
fn bad_times_and_zones_are_reported() {
    for when in [
        "",
        "2026-12-05T14:05:00",
        "2026-12-05",
        "yesterday",
        "99999999999999999999",
        "-",
        "1.5",
    ] {
        let err = date(RU, when, "UTC").unwrap_err();
        assert_eq!(err, SpeechError::BadTime(when.into()), "{when:?}");
    }
    for zone in [
        "Mars/Olympus",
        "",
        "+",
        "+25:00",
        "+3:60",
        "+123",
        "+é1",
        "EST5EDT,M3",
    ] {
        let err = time(RU, "0", zone).unwrap_err();
        assert_eq!(err, SpeechError::UnknownZone(zone.into()), "{zone:?}");
    }
    assert!(time(RU, "0", "Europe/Mosco")
        .unwrap_err()
        .to_string()
        .contains("IANA name"));
}

proptest! {
    #[test]
    fn no_helper_panics_on_any_input(text in ".{0,40}", n in any::<i64>(), group in proptest::collection::vec(0usize..5, 0..4)) {
        for lang in [RU, EN] {
            for case in Case::ALL {
                let said = words(lang, n, Gender::Neuter, case);
                prop_assert!(!said.is_empty() && !said.contains("  "));
            }
            let _ = money(lang, &text, "RUB", Style::Words);
            let _ = money(lang, &text, &text, Style::Digits);
            let _ = date(lang, &text, &text);
            let _ = time(lang, &n.to_string(), &text);
        }
        let _ = digits(&text, &group);
        let _ = text.parse::<Lang>();
    }

    #[test]
    fn money_says_the_amount_it_was_given(major in 0i64..=i64::MAX, minor in 0i64..100) {
        let said = money(EN, &format!("{major}.{minor:02}"), "USD", Style::Digits).unwrap();
        let digits_said: String = said.split(" and ").next().unwrap().chars().filter(char::is_ascii_digit).collect();
        if major > 0 || minor == 0 {
            prop_assert_eq!(digits_said, major.to_string());
        }
    }
}

//! Cardinal numbers as words over the whole `i64` range: Russian in any gender and any of
//! the six cases (every part of a compound numeral declines: «ста двадцати пяти»), English
//! in the American style ("one hundred twenty-five": no "and", no commas).

use super::plural::{category, Category};
use super::{Case, Gender, Lang};

/// The number `n` in words, agreeing in `gender` and `case` in Russian (English ignores
/// both): `words(Ru, 21, Feminine, Genitive)` is «двадцати одной», `words(En, -1005, …)` is
/// "minus one thousand five".
pub fn words(lang: Lang, n: i64, gender: Gender, case: Case) -> String {
    let mut out = String::new();
    if n < 0 {
        out.push_str(match lang {
            Lang::Ru => "минус",
            Lang::En => "minus",
        });
    }
    let magnitude = n.unsigned_abs();
    if magnitude == 0 {
        push(
            &mut out,
            match lang {
                Lang::Ru => ZERO[case.index()],
                Lang::En => "zero",
            },
        );
        return out;
    }
    // Groups of three digits, the highest first; the group's index is its power of 1000.
    let mut groups = Vec::with_capacity(7);
    let mut rest = magnitude;
    while rest > 0 {
        groups.push((rest % 1000) as usize);
        rest /= 1000;
    }
    for (scale, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            continue;
        }
        match lang {
            Lang::Ru => {
                let agree = match scale {
                    0 => gender,
                    1 => Gender::Feminine,
                    _ => Gender::Masculine,
                };
                russian_group(&mut out, group, agree, case);
                if scale > 0 {
                    russian_scale(&mut out, scale, group, case);
                }
            }
            Lang::En => {
                english_group(&mut out, group);
                if scale > 0 {
                    push(&mut out, EN_SCALES[scale]);
                }
            }
        }
    }
    out
}

/// Appends `word` after a space (none at the start).
fn push(out: &mut String, word: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(word);
}

/// Zero in the six cases.
const ZERO: [&str; 6] = ["ноль", "ноля", "нолю", "ноль", "нолём", "ноле"];

/// One in the six cases, by gender (masculine, feminine, neuter); the accusative is the
/// inanimate one.
const ONE: [[&str; 6]; 3] = [
    ["один", "одного", "одному", "один", "одним", "одном"],
    ["одна", "одной", "одной", "одну", "одной", "одной"],
    ["одно", "одного", "одному", "одно", "одним", "одном"],
];

/// Two to nine in the six cases (two is «две» in the feminine nominative and accusative).
const UNITS: [[&str; 6]; 8] = [
    ["два", "двух", "двум", "два", "двумя", "двух"],
    ["три", "трёх", "трём", "три", "тремя", "трёх"],
    [
        "четыре",
        "четырёх",
        "четырём",
        "четыре",
        "четырьмя",
        "четырёх",
    ],
    ["пять", "пяти", "пяти", "пять", "пятью", "пяти"],
    ["шесть", "шести", "шести", "шесть", "шестью", "шести"],
    ["семь", "семи", "семи", "семь", "семью", "семи"],
    ["восемь", "восьми", "восьми", "восемь", "восемью", "восьми"],
    ["девять", "девяти", "девяти", "девять", "девятью", "девяти"],
];

/// Ten to nineteen in the six cases.
const TEENS: [[&str; 6]; 10] = [
    ["десять", "десяти", "десяти", "десять", "десятью", "десяти"],
    [
        "одиннадцать",
        "одиннадцати",
        "одиннадцати",
        "одиннадцать",
        "одиннадцатью",
        "одиннадцати",
    ],
    [
        "двенадцать",
        "двенадцати",
        "двенадцати",
        "двенадцать",
        "двенадцатью",
        "двенадцати",
    ],
    [
        "тринадцать",
        "тринадцати",
        "тринадцати",
        "тринадцать",
        "тринадцатью",
        "тринадцати",
    ],
    [
        "четырнадцать",
        "четырнадцати",
        "четырнадцати",
        "четырнадцать",
        "четырнадцатью",
        "четырнадцати",
    ],
    [
        "пятнадцать",
        "пятнадцати",
        "пятнадцати",
        "пятнадцать",
        "пятнадцатью",
        "пятнадцати",
    ],
    [
        "шестнадцать",
        "шестнадцати",
        "шестнадцати",
        "шестнадцать",
        "шестнадцатью",
        "шестнадцати",
    ],
    [
        "семнадцать",
        "семнадцати",
        "семнадцати",
        "семнадцать",
        "семнадцатью",
        "семнадцати",
    ],
    [
        "восемнадцать",
        "восемнадцати",
        "восемнадцати",
        "восемнадцать",
        "восемнадцатью",
        "восемнадцати",
    ],
    [
        "девятнадцать",
        "девятнадцати",
        "девятнадцати",
        "девятнадцать",
        "девятнадцатью",
        "девятнадцати",
    ],
];

/// Twenty to ninety in the six cases.
const TENS: [[&str; 6]; 8] = [
    [
        "двадцать",
        "двадцати",
        "двадцати",
        "двадцать",
        "двадцатью",
        "двадцати",
    ],
    [
        "тридцать",
        "тридцати",
        "тридцати",
        "тридцать",
        "тридцатью",
        "тридцати",
    ],
    ["сорок", "сорока", "сорока", "сорок", "сорока", "сорока"],
    [
        "пятьдесят",
        "пятидесяти",
        "пятидесяти",
        "пятьдесят",
        "пятьюдесятью",
        "пятидесяти",
    ],
    [
        "шестьдесят",
        "шестидесяти",
        "шестидесяти",
        "шестьдесят",
        "шестьюдесятью",
        "шестидесяти",
    ],
    [
        "семьдесят",
        "семидесяти",
        "семидесяти",
        "семьдесят",
        "семьюдесятью",
        "семидесяти",
    ],
    [
        "восемьдесят",
        "восьмидесяти",
        "восьмидесяти",
        "восемьдесят",
        "восемьюдесятью",
        "восьмидесяти",
    ],
    [
        "девяносто",
        "девяноста",
        "девяноста",
        "девяносто",
        "девяноста",
        "девяноста",
    ],
];

/// One hundred to nine hundred in the six cases.
const HUNDREDS: [[&str; 6]; 9] = [
    ["сто", "ста", "ста", "сто", "ста", "ста"],
    [
        "двести",
        "двухсот",
        "двумстам",
        "двести",
        "двумястами",
        "двухстах",
    ],
    [
        "триста",
        "трёхсот",
        "трёмстам",
        "триста",
        "тремястами",
        "трёхстах",
    ],
    [
        "четыреста",
        "четырёхсот",
        "четырёмстам",
        "четыреста",
        "четырьмястами",
        "четырёхстах",
    ],
    [
        "пятьсот",
        "пятисот",
        "пятистам",
        "пятьсот",
        "пятьюстами",
        "пятистах",
    ],
    [
        "шестьсот",
        "шестисот",
        "шестистам",
        "шестьсот",
        "шестьюстами",
        "шестистах",
    ],
    [
        "семьсот",
        "семисот",
        "семистам",
        "семьсот",
        "семьюстами",
        "семистах",
    ],
    [
        "восемьсот",
        "восьмисот",
        "восьмистам",
        "восемьсот",
        "восемьюстами",
        "восьмистах",
    ],
    [
        "девятьсот",
        "девятисот",
        "девятистам",
        "девятьсот",
        "девятьюстами",
        "девятистах",
    ],
];

/// Appends a group of three digits (1..=999) in Russian.
fn russian_group(out: &mut String, group: usize, gender: Gender, case: Case) {
    let c = case.index();
    let (hundreds, tens, units) = (group / 100, group / 10 % 10, group % 10);
    if hundreds > 0 {
        push(out, HUNDREDS[hundreds - 1][c]);
    }
    if tens == 1 {
        push(out, TEENS[units][c]);
        return;
    }
    if tens > 1 {
        push(out, TENS[tens - 2][c]);
    }
    match units {
        0 => {}
        1 => push(out, ONE[gender as usize][c]),
        2 if gender == Gender::Feminine && matches!(case, Case::Nominative | Case::Accusative) => {
            push(out, "две")
        }
        _ => push(out, UNITS[units - 2][c]),
    }
}

/// The stems of the Russian powers of 1000 from a million up (a thousand is feminine and
/// declines apart).
const RU_SCALES: [&str; 5] = [
    "миллион",
    "миллиард",
    "триллион",
    "квадриллион",
    "квинтиллион",
];

/// Appends the noun of the power of 1000 `scale` (≥ 1) counted by `count`, in `case`.
fn russian_scale(out: &mut String, scale: usize, count: usize, case: Case) {
    let category = category(Lang::Ru, count as u64);
    if scale == 1 {
        push(
            out,
            match (case, category) {
                (Case::Nominative, Category::One) => "тысяча",
                (Case::Accusative, Category::One) => "тысячу",
                (Case::Nominative | Case::Accusative, Category::Few) => "тысячи",
                (Case::Nominative | Case::Accusative, Category::Many) => "тысяч",
                (Case::Genitive, Category::One) => "тысячи",
                (Case::Dative | Case::Prepositional, Category::One) => "тысяче",
                (Case::Instrumental, Category::One) => "тысячей",
                (Case::Genitive, _) => "тысяч",
                (Case::Dative, _) => "тысячам",
                (Case::Instrumental, _) => "тысячами",
                (Case::Prepositional, _) => "тысячах",
            },
        );
        return;
    }
    let ending = match (case, category) {
        (Case::Nominative | Case::Accusative, Category::One) => "",
        (Case::Nominative | Case::Accusative, Category::Few) => "а",
        (Case::Nominative | Case::Accusative, Category::Many) => "ов",
        (Case::Genitive, Category::One) => "а",
        (Case::Dative, Category::One) => "у",
        (Case::Instrumental, Category::One) => "ом",
        (Case::Prepositional, Category::One) => "е",
        (Case::Genitive, _) => "ов",
        (Case::Dative, _) => "ам",
        (Case::Instrumental, _) => "ами",
        (Case::Prepositional, _) => "ах",
    };
    push(out, RU_SCALES[(scale - 2).min(RU_SCALES.len() - 1)]);
    out.push_str(ending);
}

/// Zero to nineteen in English.
const EN_ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

/// Twenty to ninety in English.
const EN_TENS: [&str; 8] = [
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// The English powers of 1000 (short scale) up to what an `i64` reaches.
const EN_SCALES: [&str; 7] = [
    "",
    "thousand",
    "million",
    "billion",
    "trillion",
    "quadrillion",
    "quintillion",
];

/// Appends a group of three digits (1..=999) in English.
fn english_group(out: &mut String, group: usize) {
    let (hundreds, rest) = (group / 100, group % 100);
    if hundreds > 0 {
        push(out, EN_ONES[hundreds]);
        push(out, "hundred");
    }
    match rest {
        0 => {}
        1..=19 => push(out, EN_ONES[rest]),
        _ => {
            push(out, EN_TENS[rest / 10 - 2]);
            if rest % 10 > 0 {
                out.push('-');
                out.push_str(EN_ONES[rest % 10]);
            }
        }
    }
}

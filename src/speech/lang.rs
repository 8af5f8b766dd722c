//! The languages the helpers speak and the grammatical gender and case a Russian number
//! agrees in.

use std::str::FromStr;

use super::SpeechError;

/// A language the speech helpers speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Russian.
    Ru,
    /// English (American style: "one hundred twenty-five", "2:05 PM").
    En,
}

impl FromStr for Lang {
    type Err = SpeechError;

    /// Reads a BCP 47 tag by its primary language subtag, case-insensitively: `ru`, `ru-RU`,
    /// `en`, `en-US`, `en-GB`.
    fn from_str(tag: &str) -> Result<Self, SpeechError> {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("ru") {
            Ok(Lang::Ru)
        } else if primary.eq_ignore_ascii_case("en") {
            Ok(Lang::En)
        } else {
            Err(SpeechError::UnknownLanguage(tag.to_string()))
        }
    }
}

/// The grammatical gender a Russian number agrees with (one: один/одна/одно, two: два/две).
/// English ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    /// Мужской род: «один рубль», «два рубля».
    Masculine,
    /// Женский род: «одна минута», «две минуты».
    Feminine,
    /// Средний род: «одно евро», «два евро».
    Neuter,
}

impl FromStr for Gender {
    type Err = SpeechError;

    /// Reads `masculine`, `feminine`, `neuter` (or `m`, `f`, `n`).
    fn from_str(name: &str) -> Result<Self, SpeechError> {
        match name {
            "masculine" | "m" => Ok(Gender::Masculine),
            "feminine" | "f" => Ok(Gender::Feminine),
            "neuter" | "n" => Ok(Gender::Neuter),
            _ => Err(SpeechError::UnknownGender(name.to_string())),
        }
    }
}

/// The six Russian cases a number is declined in; English ignores it. The accusative is the
/// inanimate one («одну минуту», «две минуты»), the one the things a phone bot counts take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Case {
    /// Именительный: «двадцать одна».
    Nominative,
    /// Родительный: «двадцати одной».
    Genitive,
    /// Дательный: «двадцати одной».
    Dative,
    /// Винительный (неодушевлённый): «двадцать одну».
    Accusative,
    /// Творительный: «двадцатью одной».
    Instrumental,
    /// Предложный: «двадцати одной».
    Prepositional,
}

impl Case {
    /// Every case, in the order of Russian grammars.
    pub const ALL: [Case; 6] = [
        Case::Nominative,
        Case::Genitive,
        Case::Dative,
        Case::Accusative,
        Case::Instrumental,
        Case::Prepositional,
    ];

    /// The case's English name, as templates write it: `nominative`, `genitive`, `dative`,
    /// `accusative`, `instrumental`, `prepositional`.
    pub const fn name(self) -> &'static str {
        match self {
            Case::Nominative => "nominative",
            Case::Genitive => "genitive",
            Case::Dative => "dative",
            Case::Accusative => "accusative",
            Case::Instrumental => "instrumental",
            Case::Prepositional => "prepositional",
        }
    }

    /// The position of the case in [`Case::ALL`], the column of the declension tables.
    pub(super) fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for Case {
    type Err = SpeechError;

    /// Reads the case's English name: `nominative`, `genitive`, `dative`, `accusative`,
    /// `instrumental`, `prepositional`.
    fn from_str(name: &str) -> Result<Self, SpeechError> {
        Case::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| SpeechError::UnknownCase(name.to_string()))
    }
}

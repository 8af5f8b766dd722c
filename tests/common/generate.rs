//! A generator of valid flows from a tape of choices, shared by the property tests.

/// Writes a valid flow from a tape of choices.
struct Writer<'t> {
    tape: &'t [u8],
    pos: usize,
    fresh: usize,
    out: String,
}

impl Writer<'_> {
    fn take(&mut self) -> Option<u8> {
        let b = self.tape.get(self.pos).copied();
        self.pos += 1;
        b
    }

    fn name(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    fn block(&mut self, depth: usize, indent: &str) {
        let count = self.take().map_or(0, |b| b % 4) + 1;
        for _ in 0..count {
            self.stmt(depth, indent);
        }
    }

    fn stmt(&mut self, depth: usize, indent: &str) {
        let Some(choice) = self.take() else { return };
        let inner = format!("{indent}  ");
        let o = &mut self.out;
        match choice % 13 {
            0 => o.push_str(&format!("{indent}say \"Число {{{{n}}}}, текст «{{{{t}}}}»\"\n")),
            1 => {
                let v = self.name("v");
                self.out.push_str(&format!("{indent}let {v} = n * {} - 7\n{indent}say \"{{{{{v}}}}}\"\n", choice));
            }
            2 if depth < 4 => {
                self.out.push_str(&format!("{indent}if n > {choice} and t != \"x\" {{\n"));
                self.block(depth + 1, &inner);
                self.out.push_str(&format!("{indent}}} else {{\n"));
                self.block(depth + 1, &inner);
                self.out.push_str(&format!("{indent}}}\n"));
            }
            3 if depth < 4 => {
                self.out.push_str(&format!("{indent}repeat {} times within 1m {{\n", choice % 5 + 1));
                self.block(depth + 1, &inner);
                self.out.push_str(&format!("{indent}}}\n"));
            }
            4 => {
                let c = self.name("c");
                self.out.push_str(&format!(
                    "{indent}collect {c}: number {{ prompt \"Введите\"; max_digits 4; end_key \"#\"; on timeout | invalid -> hangup }}\n{indent}set n = n + {c}\n"
                ));
            }
            5 => self.out.push_str(&format!(
                "{indent}menu {{ prompt \"1 или 2\"; on \"1\" -> say \"один\"; on \"2\" -> next; on timeout -> hangup; on invalid -> hangup }}\n"
            )),
            6 => {
                let l = self.name("leg");
                self.out.push_str(&format!(
                    "{indent}dial ph as {l} {{ timeout 20s; on busy | no_answer | failed -> hangup }}\n{indent}say to {l} \"Здравствуйте\"\n{indent}bridge caller and {l}\n"
                ));
            }
            7 => self.out.push_str(&format!("{indent}pause {}ms\n", u32::from(choice) + 1)),
            8 => self.out.push_str(&format!("{indent}sms \"Спасибо, {{{{t}}}}\"\n")),
            9 => self.out.push_str(&format!(
                "{indent}listen within 30s {{ prompt loop pause 1s \"да или нет\"; on \"да\" | \"конечно\" -> next; on \"нет\" -> hangup; on timeout -> hangup }}\n"
            )),
            10 => {
                let f = self.name("f");
                self.out.push_str(&format!(
                    "{indent}fetch {f} = post \"https://crm.example/{{{{n}}}}\" with {{ number: caller.number, n: n }} {{ timeout 2s; on error -> hangup }}\n{indent}if {f}.ok {{ say \"{{{{{f}.text}}}}\" }}\n"
                ));
            }
            11 => self.out.push_str(&format!("{indent}set n = n % {} + len(t)\n", choice % 7 + 1)),
            _ => self.out.push_str(&format!("{indent}play \"prompts/p{choice}.wav\"\n")),
        }
    }
}

/// A valid flow `p(n: number, t: text, ph: phone)` written from `tape`.
pub fn program(tape: &[u8]) -> String {
    let mut w = Writer {
        tape,
        pos: 0,
        fresh: 0,
        out: String::new(),
    };
    w.out
        .push_str("flow p(n: number, t: text, ph: phone) {\n  lang ru-RU\n  answer\n");
    w.block(0, "  ");
    w.out.push_str("  hangup\n  on error -> hangup\n}\n");
    w.out
}

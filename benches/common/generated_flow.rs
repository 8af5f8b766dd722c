// The generated flow both benchmarks measure; included by check.rs and phases.rs.

/// A valid flow of about `lines` lines (about 30 bytes each) mixing the common statements.
fn flow(lines: usize) -> String {
    let mut out = String::from("flow big(name: text, phone: phone) {\n  lang ru-RU\n  answer\n");
    let mut i = 0;
    while out.len() < lines * 30 {
        i += 1;
        out.push_str(&format!(
            "  collect a{i}: number {{\n    prompt \"Введите число {i} и нажмите решётку.\"\n    max_digits 9; end_key \"#\"; timeout 10s\n    on timeout | invalid -> {{ say \"До свидания, {{{{name}}}}.\"; hangup }}\n  }}\n  let s{i} = a{i} * 2 + {i}\n  if s{i} > 100 and s{i} < 1000 {{\n    say \"Сумма равна {{{{s{i}}}}}.\"\n  }} else {{\n    pause 500ms\n  }}\n  menu {{ prompt \"Нажмите 1\"; on \"1\" -> say \"Один\"; on \"2\" -> next; on timeout -> hangup; on invalid -> hangup }}\n"
        ));
    }
    out.push_str("  hangup\n}\n");
    out
}


//! The composer's reply templates, from the file `ivrc serve --reply-templates FILE` names:
//! one template a line, `name | text`; blank lines and lines starting with `#` are skipped.

use super::pages::ReplyTemplate;

/// Reads the templates of a file's text.
///
/// # Errors
///
/// A line without `|`, or with an empty name or text, names its line.
pub fn parse(text: &str) -> Result<Vec<ReplyTemplate>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("line {}: {why}: `{line}`", i + 1);
        let (name, reply) = line
            .split_once('|')
            .ok_or_else(|| bad("a template is `name | text`"))?;
        let (name, reply) = (name.trim(), reply.trim());
        if name.is_empty() || reply.is_empty() {
            return Err(bad("a template needs a name and a text"));
        }
        out.push(ReplyTemplate {
            name: name.to_string(),
            text: reply.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_template_a_line() {
        let t = parse("# replies\n\nLater | I'll call you later today.\nАдрес|Мы на Тверской, 1\n")
            .expect("reads");
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].name, "Адрес");
        assert_eq!(t[1].text, "Мы на Тверской, 1");
        assert_eq!(
            parse("no bar").unwrap_err(),
            "line 1: a template is `name | text`: `no bar`"
        );
        assert!(parse("x |").is_err());
    }
}

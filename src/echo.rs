//! How sticky-guard repeats input back: in denials, warnings, error bodies and log lines.
//!
//! Anything taken from a request can be megabytes long and hold control characters, so it is
//! never repeated as is: [`bounded`] cuts every run of non-space characters (a name, a path, an
//! annotation value) to [`MAX_TOKEN_CHARS`] characters and the whole text to [`MAX_TEXT_CHARS`],
//! marking each cut with `…`, and escapes control characters (`\n`, `\u{1b}`, …) so that a value
//! cannot forge a log line or a terminal sequence. Prose keeps its advice: only the long tokens
//! in it shrink.

/// Longest run of non-space characters repeated: 200.
pub const MAX_TOKEN_CHARS: usize = 200;

/// Longest text repeated: 4096 characters (before escaping).
pub const MAX_TEXT_CHARS: usize = 4096;

/// `text`, bounded and escaped as the module documentation says.
pub fn bounded(text: &str) -> String {
    Bounded(text).to_string()
}

/// `text`, bounded and escaped as [`bounded`] does it, written straight into a formatter: a log
/// field or a message built with `format!` takes it without a `String` of its own. Text that
/// needs no cut and no escape (a uid, a name) is written in one piece.
#[derive(Clone, Copy, Debug)]
pub struct Bounded<'a>(pub &'a str);

impl std::fmt::Display for Bounded<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        let text = self.0;
        if text.len() <= MAX_TOKEN_CHARS && !text.chars().any(char::is_control) {
            return f.write_str(text);
        }
        let mut token = 0; // characters of the current non-space run
        let mut total = 0;
        let mut cut_token = false;
        for c in text.chars() {
            if total == MAX_TEXT_CHARS {
                f.write_char('…')?;
                break;
            }
            if c.is_whitespace() && !c.is_control() || c == ' ' {
                token = 0;
                cut_token = false;
            } else {
                token += 1;
                if token > MAX_TOKEN_CHARS {
                    if !cut_token {
                        f.write_char('…')?;
                        cut_token = true;
                    }
                    continue;
                }
            }
            total += 1;
            if c.is_control() {
                for e in c.escape_default() {
                    f.write_char(e)?;
                }
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tokens_are_cut_and_the_prose_around_them_kept() {
        let name = "a".repeat(200_000);
        let text = format!("backend `{name}` is not a Service name: use `mysvc`");
        let out = bounded(&text);
        assert_eq!(
            out,
            format!(
                "backend `{}… is not a Service name: use `mysvc`",
                "a".repeat(MAX_TOKEN_CHARS - 1)
            )
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            bounded("uid\nINFO forged\u{1b}[31m"),
            "uid\\nINFO forged\\u{1b}[31m"
        );
        assert_eq!(bounded("tab\tx"), "tab\\tx");
    }

    #[test]
    fn whole_text_is_bounded() {
        let words = "word ".repeat(10_000);
        let out = bounded(&words);
        assert_eq!(out.chars().count(), MAX_TEXT_CHARS + 1);
        assert!(out.ends_with('…'));
        assert_eq!(bounded("short and fine"), "short and fine");
    }
}

//! The one-line JSON results, formatted by hand (no serde in this crate):
//! a flat object of strings, numbers, booleans and nulls, and the matching
//! reader for the `chart` subcommand.

use std::fmt::Write as _;

/// A flat JSON object being built, field by field.
#[derive(Debug, Clone)]
pub(crate) struct JsonLine {
    text: String,
}

impl Default for JsonLine {
    fn default() -> Self {
        JsonLine {
            text: String::from("{"),
        }
    }
}

impl JsonLine {
    fn key(&mut self, key: &str) {
        if self.text.len() > 1 {
            self.text.push(',');
        }
        push_string(&mut self.text, key);
        self.text.push(':');
    }

    /// Adds a string field.
    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_string(&mut self.text, value);
        self
    }

    /// Adds an integer field.
    pub(crate) fn int(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        let _ = write!(self.text, "{value}");
        self
    }

    /// Adds a number field with up to three decimals (`null` if not finite).
    pub(crate) fn num(&mut self, key: &str, value: f64) -> &mut Self {
        self.key(key);
        if value.is_finite() {
            let text = format!("{value:.3}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            self.text.push_str(text);
        } else {
            self.text.push_str("null");
        }
        self
    }

    /// Adds a number field, or `null`.
    pub(crate) fn opt_num(&mut self, key: &str, value: Option<f64>) -> &mut Self {
        match value {
            Some(value) => self.num(key, value),
            None => {
                self.key(key);
                self.text.push_str("null");
                self
            }
        }
    }

    /// Adds a boolean field.
    pub(crate) fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.text.push_str(if value { "true" } else { "false" });
        self
    }

    /// The finished object, one line.
    pub(crate) fn finish(&self) -> String {
        format!("{}}}", self.text)
    }
}

fn push_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The raw text of field `key` in a flat object written by [`JsonLine`]
/// (strings without their quotes). Not a general JSON parser.
pub(crate) fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!("\"{key}\":");
    let start = line.find(&pattern)? + pattern.len();
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.find('"').map(|end| &quoted[..end]);
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// Field `key` as a number.
pub(crate) fn number(line: &str, key: &str) -> Option<f64> {
    field(line, key)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_back() {
        let line = JsonLine::default()
            .str("workload", "pairs")
            .int("pairs", 10)
            .num("p99_us", 12.5)
            .opt_num("rss", None)
            .bool("ok", true)
            .finish();
        assert_eq!(
            line,
            r#"{"workload":"pairs","pairs":10,"p99_us":12.5,"rss":null,"ok":true}"#
        );
        assert_eq!(field(&line, "workload"), Some("pairs"));
        assert_eq!(number(&line, "p99_us"), Some(12.5));
        assert_eq!(number(&line, "rss"), None);
    }
}

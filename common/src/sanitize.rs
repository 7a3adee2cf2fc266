//! Replacement of control and direction-override characters in relayed text,
//! so that nothing one user types can move another user's cursor, change a
//! terminal title or reorder what is shown.

use std::borrow::Cow;

/// Whether the protocol forbids `c` in relayed text: U+0000–U+001F except
/// TAB, U+007F–U+009F, U+2028, U+2029, U+202A–U+202E and U+2066–U+2069.
pub fn is_forbidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{a}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Returns `text` with every forbidden character replaced by U+FFFD, and
/// borrows when there is nothing to replace (the common case).
pub fn sanitize(text: &str) -> Cow<'_, str> {
    // Every forbidden character is either ASCII or starts with 0xC2 (C1) or
    // 0xE2 (U+2028..U+2069), so text without those bytes is clean.
    let suspicious = |b: &u8| *b < 0x20 && *b != b'\t' || *b == 0x7f || *b == 0xc2 || *b == 0xe2;
    if !text.as_bytes().iter().any(suspicious) || !text.chars().any(is_forbidden) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if is_forbidden(c) { '\u{fffd}' } else { c })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(
            sanitize("hello\tworld é → 日本"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(sanitize("\u{a0}non-breaking"), Cow::Borrowed(_)));
        assert!(matches!(sanitize("\u{2014} dash"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_forbidden_range_is_replaced() {
        let cases = [
            ("a\u{0}b", "a\u{fffd}b"),
            ("\u{1b}[2J", "\u{fffd}[2J"),
            ("a\rb", "a\u{fffd}b"),
            ("\u{7}\u{5}", "\u{fffd}\u{fffd}"),
            ("\u{7f}", "\u{fffd}"),
            ("\u{85}\u{9b}", "\u{fffd}\u{fffd}"),
            ("\u{2028}\u{2029}", "\u{fffd}\u{fffd}"),
            ("\u{202a}\u{202e}", "\u{fffd}\u{fffd}"),
            ("\u{2066}x\u{2069}", "\u{fffd}x\u{fffd}"),
            ("tab\tkept", "tab\tkept"),
            (
                "\u{2027}\u{202f}\u{2065}\u{206a}",
                "\u{2027}\u{202f}\u{2065}\u{206a}",
            ),
            ("\u{a0}\u{9f}", "\u{a0}\u{fffd}"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn forbidden_set_matches_the_protocol() {
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let expected = (c < ' ' && c != '\t')
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || ('\u{2028}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c);
            assert_eq!(is_forbidden(c), expected, "{c:?}");
        }
    }
}

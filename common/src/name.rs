//! Usernames and room names: one rule for both, checked once, so a [`Name`]
//! value is always valid and carries its case-folded form for lookups.

use std::fmt;
use std::sync::Arc;

/// The longest name, in characters (all ASCII, so also in bytes).
pub const MAX_NAME_LEN: usize = 24;

/// The name rule as one phrase for people ("1-24 letters, …"), as a macro
/// so that prose can be built around it with `concat!` at compile time.
#[macro_export]
macro_rules! name_rule {
    () => {
        "1-24 letters, digits, '_' or '-', starting with a letter or digit"
    };
}

/// The name rule as one phrase for people: what [`Name::parse`] accepts.
pub const NAME_RULE: &str = name_rule!();

/// Why a string is not a valid name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The string is empty.
    #[error("a name needs at least one character")]
    Empty,
    /// More than [`MAX_NAME_LEN`] characters.
    #[error("a name has at most 24 characters")]
    TooLong,
    /// The first character is not a letter or a digit (`-` alone means "none"
    /// on the wire, so no name may start with it).
    #[error("a name starts with a letter or a digit")]
    BadStart,
    /// A character outside `A-Z a-z 0-9 _ -`.
    #[error("a name uses only letters, digits, '_' and '-'")]
    BadChar,
}

/// A valid user or room name: 1–24 characters from `A–Z a–z 0–9 _ -`,
/// starting with a letter or a digit. Shown as first typed; compared
/// case-insensitively through [`Name::folded`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name {
    shown: Arc<str>,
    folded: Arc<str>,
}

impl Name {
    /// Checks `text` against the name rules. Nothing is trimmed: a leading
    /// space is an error, because padded names are an impersonation tool.
    ///
    /// # Errors
    ///
    /// The first rule `text` breaks.
    pub fn parse(text: &str) -> Result<Name, NameError> {
        let bytes = text.as_bytes();
        let Some(&first) = bytes.first() else {
            return Err(NameError::Empty);
        };
        if !bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(NameError::BadChar);
        }
        if bytes.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        if !first.is_ascii_alphanumeric() {
            return Err(NameError::BadStart);
        }
        let folded = fold(text);
        let shown: Arc<str> = Arc::from(text);
        let folded = if folded == text {
            shown.clone()
        } else {
            Arc::from(folded)
        };
        Ok(Name { shown, folded })
    }

    /// The name as first typed.
    pub fn as_str(&self) -> &str {
        &self.shown
    }

    /// The name as first typed, shareable without copying.
    pub fn shared(&self) -> &Arc<str> {
        &self.shown
    }

    /// The lower-case form used for uniqueness and sorting.
    pub fn folded(&self) -> &str {
        &self.folded
    }

    /// The lower-case form, shareable without copying.
    pub fn folded_shared(&self) -> &Arc<str> {
        &self.folded
    }
}

/// ASCII case folding, the protocol's only notion of "the same name".
pub fn fold(text: &str) -> String {
    text.to_ascii_lowercase()
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.shown, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(), NameError>) {
        assert_eq!(Name::parse(text).map(|_| ()), expected, "name {text:?}");
    }

    #[test]
    fn name_rules() {
        check("A", Ok(()));
        check("alice", Ok(()));
        check("Bob_the-2nd", Ok(()));
        check("3", Ok(()));
        check("0xdead", Ok(()));
        check(&"x".repeat(24), Ok(()));
        check(&"x".repeat(25), Err(NameError::TooLong));
        check("", Err(NameError::Empty));
        check("-", Err(NameError::BadStart));
        check("_bob", Err(NameError::BadStart));
        check("-bob", Err(NameError::BadStart));
        check(" alice", Err(NameError::BadChar));
        check("alice ", Err(NameError::BadChar));
        check("al ice", Err(NameError::BadChar));
        check("\u{430}lice", Err(NameError::BadChar)); // Cyrillic а
        check("\u{feff}alice", Err(NameError::BadChar)); // BOM
        check("ali\0ce", Err(NameError::BadChar));
        check("/exit", Err(NameError::BadChar));
        check("a.b", Err(NameError::BadChar));
    }

    #[test]
    fn folding_is_ascii_only_and_keeps_the_shown_form() {
        let name = Name::parse("AlIcE").unwrap();
        assert_eq!(name.as_str(), "AlIcE");
        assert_eq!(name.folded(), "alice");
        assert_eq!(name.to_string(), "AlIcE");
        assert_eq!(format!("{name:?}"), "\"AlIcE\"");
        assert_eq!(Name::parse("bob").unwrap().folded(), "bob");
        assert_eq!(Name::parse("bob").unwrap().shared().as_ref(), "bob");
    }
}

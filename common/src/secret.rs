//! A password as it crosses the parser: never printed (its `Debug` shows
//! nothing of it), and overwritten in memory when dropped.

use std::fmt;

/// A password typed by a user. Its bytes are valid UTF-8; `Debug` shows
/// nothing of them, so a secret inside a logged or debugged value stays
/// secret; dropping it overwrites the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<[u8]>);

impl Secret {
    /// Wraps a password.
    pub fn new(text: &str) -> Secret {
        Secret(text.as_bytes().into())
    }

    /// The password's bytes, to hash or check.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The password's length in characters (it is always valid UTF-8).
    pub fn n_chars(&self) -> usize {
        String::from_utf8_lossy(&self.0).chars().count()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_nothing_of_the_password() {
        let secret = Secret::new("hunter2-hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(..)");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(Secret(..))");
        assert_eq!(secret.expose(), b"hunter2-hunter2");
        assert_eq!(Secret::new("pässwörd").n_chars(), 8);
    }
}

//! The sanitiser: no forbidden character survives, clean text is untouched,
//! and sanitising twice changes nothing.
#![no_main]

use common::{is_forbidden, sanitize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let clean = sanitize(text);
    assert!(!clean.chars().any(is_forbidden));
    assert_eq!(clean.chars().count(), text.chars().count());
    if !text.chars().any(is_forbidden) {
        assert_eq!(clean, text);
    }
    assert_eq!(sanitize(&clean), clean);
});

//! A secret value that cannot be printed: `Debug` and `Display` show only a redacted preview.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// A configuration secret (API key, client secret). Read it with [`Secret::expose`] only where it
/// leaves the process (an HTTP header or query parameter); everywhere else it prints redacted.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The clear value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    pub fn char_count(&self) -> usize {
        self.expose().chars().count()
    }

    /// `sk_3…(32 chars)`: a short prefix only when the value is long enough that the prefix
    /// reveals at most an eighth of it, so a short key is never shown at all.
    pub fn redacted(&self) -> String {
        redact(self.expose())
    }
}

/// Redacted preview of any secret-like string; see [`Secret::redacted`].
pub fn redact(value: &str) -> String {
    let n = value.chars().count();
    if n == 0 {
        return "(empty)".to_string();
    }
    let shown = if n >= 16 { (n / 8).min(4) } else { 0 };
    let prefix: String = value.chars().take(shown).collect();
    format!("{prefix}…({n} chars)")
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "tmCANARYa1b2c3d4e5f6g7h8";

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new(CANARY);
        let shown = format!("{s:?} {s} {:?}", Some(&s));
        assert!(!shown.contains(CANARY), "{shown}");
        assert!(!shown.contains("CANARY"), "prefix too long: {shown}");
        assert!(shown.contains("(24 chars)"), "{shown}");
    }

    #[test]
    fn short_secrets_show_no_prefix() {
        assert_eq!(redact("abc"), "…(3 chars)");
        assert_eq!(redact(""), "(empty)");
        assert_eq!(
            redact("0123456789abcdef0123456789abcdef"),
            "0123…(32 chars)"
        );
    }

    #[test]
    fn expose_gives_the_value() {
        assert_eq!(Secret::new("x-y").expose(), "x-y");
    }
}

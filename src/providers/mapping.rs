//! What the three providers' mappings share.

/// Why an item could not be mapped (that item fails; the rest go on).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct MapError(pub String);

use crate::text::{MAX_ID_CHARS, MAX_NAME_CHARS, cut_chars, is_hidden, sanitize};

/// Longest free text kept from a provider (a description, an address, a note), in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Longest URL kept from a provider, in characters; a longer one is dropped, as a cut one
/// leads nowhere.
pub const MAX_URL_CHARS: usize = 2048;

// The bounds below keep a provider from pushing huge strings into the database (the body cap
// bounds a whole answer, these each field): text and names are cut with `…` (a cut name still
// names the item, and cutting is deterministic, so a rerun writes the same row), while an id
// too long or with a space or a hidden character fails its item (an id is a key: a cut one
// could join two items, or point at a wrong one).

/// A provider string trimmed and cut to [`MAX_TEXT_CHARS`], or `None` when absent or blank.
pub fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| cut_chars(s, MAX_TEXT_CHARS))
}

/// A name (artist, show, venue, song, album, tour, genre, place): as [`clean`], cut to
/// [`MAX_NAME_CHARS`] with `…`.
pub fn clean_name(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| cut_chars(s, MAX_NAME_CHARS))
}

/// A URL: trimmed, `None` when absent, blank or longer than [`MAX_URL_CHARS`] (never cut).
pub fn clean_url(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty() && fits_url(u))
        .map(str::to_string)
}

/// True when a URL is short enough to keep.
pub fn fits_url(u: &str) -> bool {
    u.chars().nth(MAX_URL_CHARS).is_none()
}

/// An id (`what` names it in the error, e.g. `event id`): trimmed, `None` when absent or
/// blank, an error when longer than [`MAX_ID_CHARS`] or holding a space or a hidden character.
pub fn clean_id(what: &str, s: &Option<String>) -> Result<Option<String>, MapError> {
    let Some(id) = s.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let shown = || sanitize(&cut_chars(id, 24));
    let n = id.chars().count();
    if n > MAX_ID_CHARS {
        return Err(MapError(format!(
            "{what} is {n} characters long (\"{}\"); ids are at most {MAX_ID_CHARS}, so the item was skipped",
            shown()
        )));
    }
    if id.chars().any(|c| c.is_whitespace() || is_hidden(c)) {
        return Err(MapError(format!(
            "{what} \"{}\" holds a space or a control character, which no id has, so the item was skipped",
            shown()
        )));
    }
    Ok(Some(id.to_string()))
}

/// A required id: as [`clean_id`], and an error (`missing`) when absent or blank.
pub fn require_id(what: &str, s: &Option<String>, missing: &str) -> Result<String, MapError> {
    clean_id(what, s)?.ok_or_else(|| MapError(missing.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_text_are_cut_urls_dropped_and_bad_ids_refused() {
        let huge = Some("n".repeat(100_000));
        let name = clean_name(&huge).unwrap();
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.ends_with('…'));
        assert_eq!(clean(&huge).unwrap().chars().count(), MAX_TEXT_CHARS);
        assert_eq!(
            clean_name(&Some(" Phish ".into())).as_deref(),
            Some("Phish")
        );
        assert_eq!(
            clean_url(&Some(format!("https://x/{}", "a".repeat(MAX_URL_CHARS)))),
            None
        );
        assert_eq!(
            clean_url(&Some("https://x/a".into())).as_deref(),
            Some("https://x/a")
        );
        assert_eq!(
            clean_id("event id", &Some(" K8vZ917uP07 ".into()))
                .unwrap()
                .as_deref(),
            Some("K8vZ917uP07")
        );
        assert_eq!(clean_id("event id", &None).unwrap(), None);
        let e = clean_id("event id", &huge).unwrap_err().to_string();
        assert!(
            e.contains("event id") && e.contains("100000") && e.len() < 200,
            "{e}"
        );
        for bad in ["K8v Z", "K8v\u{202e}Z", "K8v\u{1b}Z"] {
            let e = clean_id("event id", &Some(bad.into()))
                .unwrap_err()
                .to_string();
            assert!(!e.contains('\u{202e}') && !e.contains('\u{1b}'), "{e}");
        }
        assert_eq!(
            require_id("event id", &None, "event without an id")
                .unwrap_err()
                .to_string(),
            "event without an id"
        );
    }

    #[test]
    fn blank_is_none_and_text_is_trimmed() {
        assert_eq!(
            super::clean(&Some("  Austin ".into())).as_deref(),
            Some("Austin")
        );
        assert_eq!(super::clean(&Some("   ".into())), None);
        assert_eq!(super::clean(&None), None);
    }
}

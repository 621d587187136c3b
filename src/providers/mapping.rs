//! What the three providers' mappings share.

/// Why an item could not be mapped (that item fails; the rest go on).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct MapError(pub String);

/// A provider string trimmed, or `None` when absent or blank.
pub fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
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

//! Text that comes from providers or the database, made safe and tidy for a terminal, and the
//! bounds on names and ids that operators and providers hand in.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Longest artist, show, venue or song name kept (in characters): operators' longer ones are
/// refused, providers' longer ones cut with `…`.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest id (Ticketmaster's are 11 to 22 characters, UUIDs 36): longer ones are refused.
pub const MAX_ID_CHARS: usize = 64;

/// Replaces every character that can change what a terminal shows without being seen with a
/// visible form, so a name or log line can never move the cursor, change colors, ring the bell,
/// reorder the text around it or hide in it:
/// - C0 controls and DEL as `^X` (`^[`, `^?`), a tab as a space;
/// - C1 controls, bidi controls (U+061C, U+200E/F, U+202A–E, U+2066–9), zero-width and other
///   invisible format characters (Unicode category Cf: U+00AD, U+200B–D, U+2060–4, U+FEFF, tags,
///   …) and the line/paragraph separators U+2028/9 as `\u{202e}`.
///
/// The result holds only visible characters, so sanitizing it again changes nothing.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push(' '),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push(char::from_u32(c as u32 + 0x40).unwrap_or('?'));
            }
            '\u{7f}' => out.push_str("^?"),
            c if is_invisible_control(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// True for every character [`sanitize`] replaces: controls, format characters, separators.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || is_invisible_control(c)
}

/// C1 controls, the format characters (Unicode 15.1 category Cf, which holds every bidi
/// control and zero-width character) and the line/paragraph separators. Listed by hand: the
/// category is small and stable, and no crate is needed for it.
fn is_invisible_control(c: char) -> bool {
    matches!(
        c as u32,
        0x80..=0x9f
            | 0xad
            | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x890..=0x891
            | 0x8e2
            | 0x180e
            | 0x200b..=0x200f
            | 0x2028..=0x202e
            | 0x2060..=0x2064
            | 0x2066..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0x110bd
            | 0x110cd
            | 0x13430..=0x1343f
            | 0x1bca0..=0x1bca3
            | 0x1d173..=0x1d17a
            | 0xe0001
            | 0xe0020..=0xe007f
    )
}

/// `s` cut to at most `max` characters, ending in `…` when cut (for names too long to keep).
pub fn cut_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some(_) => {
            let keep = max.saturating_sub(1);
            let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..end])
        }
    }
}

/// A bounded, sanitized excerpt of a value for an error message (never the whole value).
fn excerpt(s: &str) -> String {
    sanitize(&cut_chars(s, 24))
}

/// An operator's artist name or search (`what` names where it came from, e.g. `--artist`):
/// at most [`MAX_NAME_CHARS`] characters once trimmed. The error says what to do.
pub fn check_name(what: &str, value: &str) -> Result<(), String> {
    let n = value.trim().chars().count();
    if n > MAX_NAME_CHARS {
        return Err(format!(
            "{what} is {n} characters long (\"{}\"); names are at most {MAX_NAME_CHARS} characters: give the name as Ticketmaster lists it",
            excerpt(value.trim())
        ));
    }
    Ok(())
}

/// An operator's id (`what` names where it came from, e.g. `--tm-id`): 1 to [`MAX_ID_CHARS`]
/// letters, digits, `-`, `_` or `.` once trimmed. The error says what to do.
pub fn check_id(what: &str, value: &str) -> Result<(), String> {
    let v = value.trim();
    let n = v.chars().count();
    if n == 0 {
        return Err(format!(
            "{what} is empty; give the id as `syncdeck artist add NAME` lists it"
        ));
    }
    if n > MAX_ID_CHARS {
        return Err(format!(
            "{what} is {n} characters long (\"{}\"); ids are at most {MAX_ID_CHARS} characters: give the id as `syncdeck artist add NAME` lists it",
            excerpt(v)
        ));
    }
    if let Some(bad) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "{what} \"{}\" holds {}, which no id has; ids are letters, digits, '-', '_' and '.': give the id as `syncdeck artist add NAME` lists it",
            excerpt(v),
            describe_char(bad)
        ));
    }
    Ok(())
}

/// `'/'`, or `U+202E` for a character that does not show.
fn describe_char(c: char) -> String {
    if is_hidden(c) || c.is_whitespace() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("'{c}'")
    }
}

/// Cuts `s` to at most `width` terminal columns, ending in `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if UnicodeWidthStr::width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// `s` padded with spaces (or cut) to exactly `width` columns.
pub fn pad(s: &str, width: usize) -> String {
    let cut = truncate(s, width);
    let w = UnicodeWidthStr::width(cut.as_str());
    format!("{cut}{}", " ".repeat(width.saturating_sub(w)))
}

/// `-1,234,567`: an integer with thousands separators.
/// A share (0 to 1) as a whole percent: `0.25` → `25 %`.
pub fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Display width in terminal columns.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits_in_threes() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(thousands(i64::MIN), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(sanitize("a\x1b[31mb\x07"), "a^[[31mb^G");
        assert_eq!(sanitize("x\ry\u{9b}z\u{7f}"), "x^My\\u{9b}z^?");
        assert_eq!(sanitize("Sigur Rós 🎸"), "Sigur Rós 🎸");
    }

    #[test]
    fn bidi_and_invisible_characters_become_visible() {
        // An RLO would show "evil.exe" as "exe.live" and reorder everything after it.
        assert_eq!(sanitize("a\u{202e}exe.live"), "a\\u{202e}exe.live");
        for (c, shown) in [
            ('\u{61c}', "\\u{61c}"),
            ('\u{200e}', "\\u{200e}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{202a}', "\\u{202a}"),
            ('\u{202d}', "\\u{202d}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{200b}', "\\u{200b}"),
            ('\u{200c}', "\\u{200c}"),
            ('\u{200d}', "\\u{200d}"),
            ('\u{2060}', "\\u{2060}"),
            ('\u{2064}', "\\u{2064}"),
            ('\u{feff}', "\\u{feff}"),
            ('\u{ad}', "\\u{ad}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
            ('\u{e0041}', "\\u{e0041}"),
            ('\u{1d173}', "\\u{1d173}"),
        ] {
            assert_eq!(sanitize(&format!("x{c}y")), format!("x{shown}y"), "{c:?}");
        }
    }

    #[test]
    fn visible_text_is_left_alone_and_sanitizing_twice_changes_nothing() {
        // Letters, combining marks, CJK, RTL letters (not controls), emoji, a variation selector.
        for s in [
            "Sigur Rós",
            "Beyonce\u{301}",
            "坂本龍一",
            "فيروز",
            "עידן רייכל",
            "❤\u{fe0f} 🎸",
            "AC/DC — Live",
        ] {
            assert_eq!(sanitize(s), s);
        }
        let nasty = "a\u{1b}[2J\u{202e}b\u{200b}c\u{9b}d\u{feff}";
        let once = sanitize(nasty);
        assert_eq!(sanitize(&once), once);
        assert!(
            once.chars()
                .all(|c| !c.is_control() && !is_invisible_control(c)),
            "{once:?}"
        );
    }

    #[test]
    fn every_format_character_is_caught() {
        // Spot checks across the Cf ranges, and their visible neighbours.
        for c in [
            '\u{600}',
            '\u{605}',
            '\u{6dd}',
            '\u{70f}',
            '\u{890}',
            '\u{8e2}',
            '\u{180e}',
            '\u{206f}',
            '\u{fffb}',
            '\u{110bd}',
            '\u{13430}',
            '\u{1bca3}',
            '\u{e0001}',
            '\u{e007f}',
        ] {
            assert!(is_invisible_control(c), "{c:?}");
        }
        for c in [
            '\u{5ff}', '\u{606}', '\u{2027}', '\u{202f}', '\u{2065}', '\u{fe0f}', '\u{fffc}',
        ] {
            assert!(!is_invisible_control(c), "{c:?}");
        }
    }

    #[test]
    fn names_are_cut_by_characters() {
        assert_eq!(cut_chars("abc", 3), "abc");
        assert_eq!(cut_chars("abcd", 3), "ab…");
        assert_eq!(cut_chars("坂本龍一", 3).chars().count(), 3);
        let long = "é".repeat(100_000);
        assert_eq!(
            cut_chars(&long, MAX_NAME_CHARS).chars().count(),
            MAX_NAME_CHARS
        );
    }

    #[test]
    fn operator_names_and_ids_are_bounded() {
        assert!(check_name("NAME", "Sigur Rós").is_ok());
        assert!(check_name("NAME", &"x".repeat(MAX_NAME_CHARS)).is_ok());
        let e = check_name("--artist", &"x".repeat(100_000)).unwrap_err();
        assert!(
            e.contains("--artist") && e.contains("100000 characters") && e.contains("200"),
            "{e}"
        );
        assert!(e.len() < 300, "the value must not be echoed in full: {e}");
        assert!(check_id("--tm-id", "K8vZ917_YJf").is_ok());
        assert!(check_id("--tm-id", " G5diZfkn0B-bh ").is_ok());
        let e = check_id("--tm-id", &"K".repeat(65)).unwrap_err();
        assert!(e.contains("65 characters") && e.contains("64"), "{e}");
        let e = check_id("--tm-id", "K8v/../x").unwrap_err();
        assert!(e.contains("'/'"), "{e}");
        let e = check_id("--tm-id", "K8v\u{202e}x").unwrap_err();
        assert!(e.contains("U+202E") && !e.contains('\u{202e}'), "{e}");
        assert!(check_id("--tm-id", "  ").unwrap_err().contains("empty"));
    }

    #[test]
    fn truncation_counts_columns() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(width(&truncate("坂本龍一坂本龍一", 5)), 5);
        assert_eq!(width(&pad("🎸x", 6)), 6);
    }
}

//! The `/` filter's small query language (and `syncdeck status --filter`): `status:error`,
//! `spotify:pending`, `never-synced`, `has-error`, `error:TEXT` (in the last error), free text
//! on the name (or the Ticketmaster id), `!` to negate a term and `|` between alternatives
//! (`status:error|status:syncing`, `metallica|slayer`), `~` for a fuzzy name (`~mtlca` finds
//! "Metallica": the letters in order, close together, by nucleo's matcher). Every term must hold. Text
//! is compared without case or accents: `sigur ros` finds "Sigur Rós".

use crate::store::artists::ArtistSummary;
use crate::store::sync_status::{Overall, PartStatus, Source};

/// An artist's text as the filter and the name sort compare it: lower-cased once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchKey {
    pub name: String,
    pub ticketmaster_id: String,
}

impl SearchKey {
    pub fn of(a: &ArtistSummary) -> SearchKey {
        SearchKey {
            name: fold(&a.name),
            ticketmaster_id: fold(&a.ticketmaster_id),
        }
    }
}

/// Text folded for comparing without case or accents: lower-cased, decomposed (NFD) with its
/// combining marks dropped (`ó` → `o`), and the letters that do not decompose spelt in ASCII
/// (`ø` → `o`, `ß` → `ss`). Lower-casing alone is not enough for Greek either: a capital sigma
/// becomes the final `ς` at the end of a word and `σ` inside one, so `ΟΔΥΣ` (a piece of
/// `ΟΔΥΣΣΕΑΣ`) would not be found in it; both forms fold to `σ`.
pub fn fold(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let mut out = String::with_capacity(text.len());
    for c in text.to_lowercase().nfd().filter(|c| !is_combining_mark(*c)) {
        match c {
            'ς' => out.push('σ'),
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'đ' | 'ð' => out.push('d'),
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'þ' => out.push_str("th"),
            'ı' => out.push('i'),
            other => out.push(other),
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    Overall(Overall),
    Part(Source, PartStatus),
    NeverSynced,
    HasError,
    /// Folded text searched in the last error.
    Error(String),
    /// Folded text searched in the name and the Ticketmaster id.
    Text(String),
    /// Folded letters found in order in the name (nucleo's fuzzy match).
    Fuzzy(String),
}

thread_local! {
    /// nucleo's matcher keeps scratch space: one per thread, reused for every artist.
    static MATCHER: std::cell::RefCell<nucleo_matcher::Matcher> =
        std::cell::RefCell::new(nucleo_matcher::Matcher::new(nucleo_matcher::Config::DEFAULT));
}

/// Whether the folded `needle`'s letters occur in order in the folded `haystack`, close
/// together: nucleo's best alignment must span less than three times the letters typed. (Any
/// scattered subsequence would do for fzf, which ranks; a filter does not rank, and over a
/// catalog six letters are found scattered in most long names.)
fn fuzzy(haystack: &str, needle: &str) -> bool {
    use nucleo_matcher::Utf32Str;
    let (mut h, mut n, mut at) = (Vec::new(), Vec::new(), Vec::new());
    let letters = needle.chars().count() as u32;
    let found = MATCHER.with(|m| {
        m.borrow_mut()
            .fuzzy_indices(
                Utf32Str::new(haystack, &mut h),
                Utf32Str::new(needle, &mut n),
                &mut at,
            )
            .is_some()
    });
    found
        && match (at.iter().min(), at.iter().max()) {
            (Some(first), Some(last)) => last - first < 3 * letters,
            _ => false,
        }
}

/// One whitespace-separated term: any of its `|` alternatives holds (then `!` negates).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    negate: bool,
    any: Vec<Test>,
}

/// A parsed filter; the empty query matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    terms: Vec<Term>,
}

fn overall_word(w: &str) -> Option<Overall> {
    Some(match w {
        "success" | "ok" => Overall::Success,
        "error" | "failed" => Overall::Error,
        "syncing" => Overall::Syncing,
        "pending" => Overall::Pending,
        _ => return None,
    })
}

fn source_word(w: &str) -> Option<Source> {
    Some(match w {
        "tm" | "ticketmaster" => Source::Ticketmaster,
        "sp" | "spotify" => Source::Spotify,
        "sf" | "setlistfm" | "setlist.fm" | "setlist" => Source::Setlistfm,
        _ => return None,
    })
}

/// One alternative of a term.
fn parse_test(word: &str) -> Result<Test, String> {
    let lower = fold(word);
    if let Some(letters) = lower.strip_prefix('~') {
        if letters.is_empty() {
            return Err(format!(
                "`{word}`: letters after ~ (`~mtlca` finds Metallica)"
            ));
        }
        return Ok(Test::Fuzzy(letters.to_string()));
    }
    Ok(if lower == "never-synced" || lower == "never" {
        Test::NeverSynced
    } else if lower == "has-error" || lower == "has:error" {
        Test::HasError
    } else if let Some((key, value)) = lower.split_once(':') {
        if key == "status" {
            Test::Overall(overall_word(value).ok_or_else(|| {
                format!("`{word}`: status is one of success, error, syncing, pending")
            })?)
        } else if let Some(source) = source_word(key) {
            let status = PartStatus::parse(value).ok_or_else(|| {
                format!("`{word}`: {key} is one of pending, syncing, success, error")
            })?;
            Test::Part(source, status)
        } else if key == "name" {
            Test::Text(value.to_string())
        } else if key == "error" {
            Test::Error(value.to_string())
        } else {
            return Err(format!(
                "`{word}`: unknown field `{key}` (status, tm, spotify, setlistfm, name, error)"
            ));
        }
    } else {
        Test::Text(lower)
    })
}

impl Query {
    /// Parses the text; an error names the term and what is allowed.
    pub fn parse(text: &str) -> Result<Query, String> {
        let mut terms = Vec::new();
        for raw in text.split_whitespace() {
            let (negate, alternatives) = match raw.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, raw),
            };
            let any = alternatives
                .split('|')
                .filter(|w| !w.is_empty())
                .map(parse_test)
                .collect::<Result<Vec<_>, _>>()?;
            if !any.is_empty() {
                terms.push(Term { negate, any });
            }
        }
        Ok(Query { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, a: &ArtistSummary) -> bool {
        self.matches_row(a, &SearchKey::of(a))
    }

    /// [`Query::matches`] with the artist's lower-cased text computed once (the console keeps
    /// one per artist, so a keystroke over 100,000 artists lowercases nothing).
    pub fn matches_row(&self, a: &ArtistSummary, key: &SearchKey) -> bool {
        self.terms.iter().all(|t| {
            let hit = t.any.iter().any(|test| match test {
                Test::Overall(o) => a.overall() == *o,
                Test::Part(s, p) => a.sync_status.get(*s) == *p,
                Test::NeverSynced => a.last_sync.is_none(),
                Test::HasError => a.last_sync_error.as_deref().is_some_and(|e| !e.is_empty()),
                // Folded here, only for artists with an error and only for this term.
                Test::Error(text) => a
                    .last_sync_error
                    .as_deref()
                    .is_some_and(|e| fold(e).contains(text.as_str())),
                Test::Text(text) => key.name.contains(text) || key.ticketmaster_id.contains(text),
                Test::Fuzzy(letters) => fuzzy(&key.name, letters),
            });
            hit != t.negate
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sync_status::SyncStatus;

    fn artist(name: &str, status: &str, synced: bool, error: Option<&str>) -> ArtistSummary {
        ArtistSummary {
            id: name.into(),
            name: name.into(),
            ticketmaster_id: format!("K8{name}"),
            spotify_id: None,
            setlist_fm_mbid: None,
            sync_status: SyncStatus::from_db(Some(status)),
            last_sync: synced.then(chrono::Utc::now),
            last_ticketmaster_sync: None,
            last_spotify_sync: None,
            last_sync_error: error.map(str::to_string),
            upcoming_shows_count: 0,
            songs_count: 0,
        }
    }

    fn names(q: &str, all: &[ArtistSummary]) -> Vec<String> {
        let q = Query::parse(q).expect("parses");
        all.iter()
            .filter(|a| q.matches(a))
            .map(|a| a.name.clone())
            .collect()
    }

    fn sample() -> Vec<ArtistSummary> {
        vec![
            artist(
                "Metallica",
                r#"{"ticketmaster":"success","spotify":"success","setlistfm":"success"}"#,
                true,
                None,
            ),
            artist(
                "Avenged Sevenfold",
                r#"{"ticketmaster":"success","spotify":"error","setlistfm":"success"}"#,
                true,
                Some("spotify: albums step: HTTP 403"),
            ),
            artist("Garth Brooks", r#"{}"#, false, None),
        ]
    }

    #[test]
    fn a_tilde_term_matches_the_letters_in_order() {
        let all = sample();
        assert_eq!(names("~mtlca", &all), ["Metallica"]);
        assert_eq!(names("~GRTHBRKS", &all), ["Garth Brooks"], "case folded");
        assert_eq!(names("~avsvnfld", &all), ["Avenged Sevenfold"]);
        assert_eq!(
            names("~acm", &all),
            Vec::<String>::new(),
            "letters out of order"
        );
        let long = [artist(
            "The Extraordinarily Long-Winded Philharmonic Society of Amateur Kazoo Players, \
             Handbell Ringers, Accordion Enthusiasts and Assorted Travelling Minstrels",
            "{}",
            false,
            None,
        )];
        assert_eq!(
            names("~mtlycr", &long),
            Vec::<String>::new(),
            "letters scattered over a long name are no match"
        );
        assert_eq!(names("!~mtlca", &all).len(), 2, "negated");
        assert_eq!(names("~mtlca|~grth", &all), ["Metallica", "Garth Brooks"]);
        let rós = [artist("Sigur Rós", "{}", false, None)];
        assert_eq!(names("~sgrrs", &rós), ["Sigur Rós"], "accents folded");
        let tilde = [artist("~Tilde Band", "{}", false, None)];
        assert_eq!(
            names("name:~tilde", &tilde),
            ["~Tilde Band"],
            "name: is literal"
        );
        let err = Query::parse("~").unwrap_err();
        assert!(err.contains("letters after ~"), "{err}");
    }

    #[test]
    fn status_source_text_and_negation() {
        let all = sample();
        assert_eq!(names("", &all).len(), 3);
        assert_eq!(names("status:error", &all), ["Avenged Sevenfold"]);
        assert_eq!(names("spotify:error", &all), ["Avenged Sevenfold"]);
        assert_eq!(names("sp:pending", &all), ["Garth Brooks"]);
        assert_eq!(names("never-synced", &all), ["Garth Brooks"]);
        assert_eq!(names("!never-synced", &all).len(), 2);
        assert_eq!(names("has-error", &all), ["Avenged Sevenfold"]);
        assert_eq!(names("META", &all), ["Metallica"]);
        assert_eq!(
            names("!status:success o", &all),
            ["Avenged Sevenfold", "Garth Brooks"]
        );
        assert_eq!(
            names("k8garth", &all),
            ["Garth Brooks"],
            "the Ticketmaster id matches too"
        );
    }

    #[test]
    fn accents_error_text_and_alternatives() {
        let mut all = sample();
        all.push(artist("Sigur Rós", "{}", false, None));
        all.push(artist("Motörhead", "{}", false, None));
        all.push(artist("Ærøskøbing Brass", "{}", false, None));
        assert_eq!(names("sigur ros", &all), ["Sigur Rós"]);
        // Folded on both sides: "ÆRØS" is "aeros", inside "aeroskobing".
        assert_eq!(names("RÓS", &all), ["Sigur Rós", "Ærøskøbing Brass"]);
        assert_eq!(names("motorhead", &all), ["Motörhead"]);
        assert_eq!(names("aeroskobing", &all), ["Ærøskøbing Brass"]);
        assert_eq!(names("error:403", &all), ["Avenged Sevenfold"]);
        assert_eq!(names("error:ALBUMS", &all), ["Avenged Sevenfold"]);
        assert!(names("error:timeout", &all).is_empty());
        assert_eq!(
            names("metallica|garth", &all),
            ["Metallica", "Garth Brooks"]
        );
        assert_eq!(
            names("status:error|never-synced !sigur|motor", &all),
            ["Avenged Sevenfold", "Garth Brooks", "Ærøskøbing Brass"]
        );
        assert!(
            Query::parse("a||b").is_ok(),
            "empty alternatives are skipped"
        );
        let e = Query::parse("status:error|status:weird").unwrap_err();
        assert!(e.contains("`status:weird`"), "{e}");
    }

    #[test]
    fn bad_terms_say_what_is_allowed() {
        let e = Query::parse("status:weird").unwrap_err();
        assert!(e.contains("status is one of"), "{e}");
        let e = Query::parse("colour:red").unwrap_err();
        assert!(e.contains("unknown field `colour`"), "{e}");
        let e = Query::parse("spotify:great").unwrap_err();
        assert!(e.contains("pending, syncing, success, error"), "{e}");
    }
}

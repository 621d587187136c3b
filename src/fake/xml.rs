//! setlist.fm answers XML unless the client asks for JSON (apis.md 3.1), so a client that
//! forgets `Accept: application/json` gets a body it cannot parse, as it would in production.
//!
//! The rendering follows setlist.fm's XML schema closely enough for that purpose: scalar fields
//! are attributes, objects are child elements, arrays are repeated elements named by their key
//! (`artist`, `setlist`, `set`, `song` are singular in the JSON too), and `url`/`info` are text
//! elements.

use serde_json::Value;

const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;

/// Keys whose values setlist.fm sends as element text, not as attributes.
const TEXT_ELEMENTS: [&str; 2] = ["url", "info"];

/// The whole document for a JSON answer; `type` (JSON only) is dropped from the root.
pub(crate) fn document(root: &str, value: &Value) -> String {
    let mut out = String::from(DECLARATION);
    element(&mut out, root, value, true);
    out
}

/// setlist.fm's error object as XML.
pub(crate) fn error_document(code: u16, status: &str, message: &str, timestamp: &str) -> String {
    format!(
        "{DECLARATION}<error><code>{code}</code><status>{}</status><message>{}</message><timestamp>{}</timestamp></error>",
        escape(status),
        escape(message),
        escape(timestamp)
    )
}

fn element(out: &mut String, name: &str, value: &Value, root: bool) {
    match value {
        Value::Object(map) => {
            out.push('<');
            out.push_str(name);
            for (k, v) in map {
                if root && k == "type" {
                    continue;
                }
                if let Some(text) = scalar(v).filter(|_| !TEXT_ELEMENTS.contains(&k.as_str())) {
                    out.push_str(&format!(" {k}=\"{}\"", escape(&text)));
                }
            }
            let children: Vec<(&String, &Value)> = map
                .iter()
                .filter(|(k, v)| {
                    matches!(v, Value::Object(_) | Value::Array(_))
                        || (TEXT_ELEMENTS.contains(&k.as_str()) && scalar(v).is_some())
                })
                .collect();
            if children.is_empty() {
                out.push_str("/>");
                return;
            }
            out.push('>');
            for (k, v) in children {
                match v {
                    Value::Array(items) => {
                        for item in items {
                            element(out, k, item, false);
                        }
                    }
                    _ => element(out, k, v, false),
                }
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Array(items) => {
            for item in items {
                element(out, name, item, false);
            }
        }
        Value::Null => {}
        other => {
            let text = scalar(other).unwrap_or_default();
            out.push_str(&format!("<{name}>{}</{name}>", escape(&text)));
        }
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Escapes markup, and replaces characters XML 1.0 cannot carry at all (an artist name with an
/// ANSI escape or a bell) with U+FFFD, since not even a character reference may name them.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_attributes_children_and_text() {
        let v = json!({
            "type": "artists", "itemsPerPage": 30, "page": 1, "total": 1,
            "artist": [{"mbid": "m1", "name": "A & \"B\"", "url": "https://x/y?a=1&b=2"}]
        });
        let xml = document("artists", &v);
        assert_eq!(
            xml,
            format!(
                "{DECLARATION}<artists itemsPerPage=\"30\" page=\"1\" total=\"1\"><artist mbid=\"m1\" name=\"A &amp; &quot;B&quot;\"><url>https://x/y?a=1&amp;b=2</url></artist></artists>"
            )
        );
    }

    #[test]
    fn nests_sets_and_drops_illegal_characters() {
        let v = json!({"id": "1", "sets": {"set": [{"song": [{"name": "Evil\u{1b}[31m"}]}]}});
        let xml = document("setlist", &v);
        assert!(
            xml.contains("<sets><set><song name=\"Evil\u{fffd}[31m\"/></set></sets>"),
            "{xml}"
        );
    }
}

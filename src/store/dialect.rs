//! One SQL text for both backends: queries are written for Postgres with explicit casts
//! (`$1::uuid`, `x::text`), and the SQLite text is the same with the casts removed, since SQLite
//! stores those values as TEXT/REAL already. Placeholders `$N` work on both (sqlx binds `$N` by
//! number on SQLite too).

/// Which database a query runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Appends `(…)` holding the bound ids, each cast to `uuid` on Postgres: the list of an `IN`.
pub fn push_uuid_list<DB>(qb: &mut sqlx::QueryBuilder<DB>, backend: Backend, ids: &[String])
where
    DB: sqlx::Database,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    qb.push("(");
    let mut list = qb.separated(", ");
    for id in ids {
        list.push_bind(id.clone());
        if backend == Backend::Postgres {
            list.push_unseparated("::uuid");
        }
    }
    qb.push(")");
}

/// A query text for both backends; build it with the [`sql!`](crate::sql) macro.
#[derive(Clone, Copy)]
pub struct Sql {
    pub postgres: &'static str,
    pub sqlite: &'static std::sync::LazyLock<String>,
}

impl Sql {
    pub fn text(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Postgres => self.postgres,
            Backend::Sqlite => self.sqlite.as_str(),
        }
    }
}

/// A static query text for both backends, the SQLite form computed once on first use.
#[macro_export]
macro_rules! sql {
    ($text:expr) => {{
        static SQLITE: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| $crate::store::dialect::strip_casts($text));
        $crate::store::dialect::Sql {
            postgres: $text,
            sqlite: &SQLITE,
        }
    }};
}

/// Removes Postgres `::type` and `::type[]` casts outside string literals.
pub fn strip_casts(pg: &str) -> String {
    let bytes = pg.as_bytes();
    let mut out = String::with_capacity(pg.len());
    let (mut i, mut span_start, mut in_string) = (0, 0, false);
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\'' {
            in_string = !in_string;
        }
        if !in_string && c == b':' && bytes.get(i + 1) == Some(&b':') {
            let mut j = i + 2;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            if bytes.get(j) == Some(&b'[') && bytes.get(j + 1) == Some(&b']') {
                j += 2;
            }
            // ASCII never occurs inside a multi-byte UTF-8 sequence, so these are char boundaries.
            out.push_str(&pg[span_start..i]);
            span_start = j;
            i = j;
            continue;
        }
        i += 1;
    }
    out.push_str(&pg[span_start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_are_removed_outside_strings_only() {
        assert_eq!(
            strip_casts("SELECT id::text, $1::uuid, x::text[] FROM t WHERE s = 'a::b'"),
            "SELECT id, $1, x FROM t WHERE s = 'a::b'"
        );
        assert_eq!(
            strip_casts("VALUES ($3::timestamptz, $4::float8)"),
            "VALUES ($3, $4)"
        );
    }

    #[test]
    fn the_macro_gives_each_backend_its_text() {
        let q = crate::sql!("SELECT $1::uuid");
        assert_eq!(q.text(Backend::Postgres), "SELECT $1::uuid");
        assert_eq!(q.text(Backend::Sqlite), "SELECT $1");
    }
}

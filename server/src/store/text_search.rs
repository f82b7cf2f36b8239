//! Substring search over message text, the one place the two databases differ most:
//! SQLite uses its FTS5 trigram index, PostgreSQL `ILIKE` backed by a `pg_trgm` index.
//! Both find a word anywhere inside a sentence, which Chinese text needs.

use super::Db;

/// `LIKE` pattern matching `query` anywhere, with wildcards in it escaped (`\`).
fn like_pattern(query: &str) -> String {
    let escaped = query
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A condition on messages aliased `m` that holds when `m.body` contains `query`
/// (case-insensitively), using placeholder `$param`, and the value to bind to it.
pub fn body_contains(db: &Db, query: &str, param: usize) -> (String, String) {
    match db {
        // Trigram MATCH needs at least three characters; shorter queries scan with LIKE.
        Db::Sqlite(_) if query.chars().count() >= 3 => (
            format!(
                "m.rowid IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ${param})"
            ),
            format!("\"{}\"", query.replace('"', "\"\"")),
        ),
        Db::Sqlite(_) => (
            format!("m.body LIKE ${param} ESCAPE '\\'"),
            like_pattern(query),
        ),
        Db::Postgres(_) => (
            format!("m.body ILIKE ${param} ESCAPE '\\'"),
            like_pattern(query),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn wildcards_in_queries_are_literal() {
        assert_eq!(like_pattern("50%_off"), "%50\\%\\_off%");
    }
}

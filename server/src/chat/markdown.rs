//! Message text: Markdown rendered on the server (comrak, GitHub flavour with bare-URL
//! links) and sanitised (ammonia), so user text never becomes script in anyone's
//! browser. Also finds `@username` and `@all`/`@channel` mentions.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Longest accepted message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 16_000;

fn options() -> &'static comrak::Options<'static> {
    static OPTIONS: OnceLock<comrak::Options<'static>> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        let mut o = comrak::Options::default();
        o.extension.strikethrough = true;
        o.extension.table = true;
        o.extension.autolink = true;
        o.extension.tasklist = true;
        // Enter makes a line break, as in every chat app.
        o.render.hardbreaks = true;
        // Raw HTML typed by users is shown as text, never passed through.
        o.render.r#unsafe = false;
        o.render.escape = true;
        o
    })
}

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    SANITIZER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        // No remote images: they would reveal readers' addresses to whoever hosts them.
        b.rm_tags(&["img"]);
        b.url_schemes(HashSet::from(["http", "https", "mailto"]));
        b.link_rel(Some("noopener noreferrer nofollow"));
        b.add_tag_attributes("input", &["type", "checked", "disabled"]);
        b.add_tags(&["input"]);
        // comrak blanks unsafe URLs (javascript:, data:) to "": drop the attribute, so
        // what is left is text, not a link to the current page.
        b.attribute_filter(|_element, attribute, value| {
            if attribute == "href" && value.trim().is_empty() {
                None
            } else {
                Some(value.into())
            }
        });
        b
    })
}

/// Render Markdown to safe HTML.
pub fn render(text: &str) -> String {
    let html = comrak::markdown_to_html(text, options());
    sanitizer().clean(&html).to_string()
}

/// Mentions found in a message's text.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Lowercased usernames after `@`.
    pub usernames: Vec<String>,
    /// `@all`, `@channel` or `@所有人` appeared.
    pub everyone: bool,
}

/// Find `@username` tokens (username characters: a-z 0-9 . _ -) and `@all`/`@channel`.
pub fn mentions(text: &str) -> Mentions {
    let mut out = Mentions::default();
    let mut seen = HashSet::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let at_word_start = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '.');
        if chars[i] == '@' && at_word_start {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_ascii_alphanumeric() || matches!(chars[j], '.' | '_' | '-'))
            {
                j += 1;
            }
            let mut name: String = chars[i + 1..j].iter().collect::<String>().to_lowercase();
            // A trailing dot ends a sentence, not a username.
            while name.ends_with('.') {
                name.pop();
            }
            let everyone = text_matches(&chars[i + 1..], "所有人")
                || matches!(name.as_str(), "all" | "channel" | "everyone");
            if everyone {
                out.everyone = true;
            } else if name.len() >= 3 && seen.insert(name.clone()) {
                out.usernames.push(name);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn text_matches(chars: &[char], word: &str) -> bool {
    let w: Vec<char> = word.chars().collect();
    chars.len() >= w.len() && chars[..w.len()] == w[..]
}

/// A short plain-text excerpt (for quotes and notifications).
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        flat
    } else {
        let mut s: String = flat.chars().take(max_chars).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered_and_script_is_inert() {
        let html = render(
            "**bold** <img src=x onerror=alert(1)> [x](javascript:alert(1)) https://example.com",
        );
        assert!(html.contains("<strong>bold</strong>"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("onerror=alert(1)>") || html.contains("&lt;img"));
        assert!(!html.contains("javascript:"));
        assert!(!html.contains("href=\"\""));
        assert!(html.contains("href=\"https://example.com\""));
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""));
        let html = render("<script>alert(1)</script>");
        assert!(!html.contains("<script"));
    }

    #[test]
    fn enter_is_a_line_break() {
        assert!(render("a\nb").contains("<br"));
    }

    #[test]
    fn mentions_are_found() {
        let m = mentions("hi @Ann.Lee and @bob, mail me at x@y.com. @all @ann.lee.");
        assert_eq!(m.usernames, vec!["ann.lee", "bob"]);
        assert!(m.everyone);
        assert!(mentions("@所有人 开会").everyone);
        assert_eq!(mentions("no mentions here").usernames.len(), 0);
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt("a  b\nc", 10), "a b c");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}

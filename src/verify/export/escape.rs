//! Text made safe for HTML and XML alike. Names and reasons come from a topology file and
//! from packets, so any of them may hold markup characters, quotes or control characters.

use std::fmt::Write;

/// Text for an element's content: `&`, `<` and `>` as entities, and the characters XML 1.0
/// cannot carry at all as U+FFFD.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => push_char(&mut out, c),
        }
    }
    out
}

/// Text for a double- or single-quoted attribute value. Tab, newline and carriage return are
/// written as character references, since an XML parser turns them into spaces otherwise.
pub fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c => push_char(&mut out, c),
        }
    }
    out
}

/// A CSS string for an attribute selector such as `[data-node="…"]`, inside a `<style>`
/// element: quotes and backslashes escaped, and `<` as `\3c ` so that no `</style>` can
/// close the element early.
pub fn css_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c == '<' || c.is_control() => {
                let _ = write!(out, "\\{:x} ", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// JSON for a `<script>` element: `<` as `\u003c`, so that neither `</script>` nor `<!--`
/// can appear inside it. Valid JSON stays valid: `<` occurs only inside strings.
pub fn json_in_script(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// Characters XML 1.0 allows: tab, newline, carriage return, and everything from space on
/// except the surrogates and U+FFFE/U+FFFF (which a Rust `char` cannot be or which are rare).
fn push_char(out: &mut String, c: char) {
    let allowed = matches!(c, '\t' | '\n' | '\r')
        || (c >= ' ' && c != '\u{7f}' && c != '\u{fffe}' && c != '\u{ffff}');
    out.push(if allowed { c } else { '\u{fffd}' });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_quotes_and_controls_are_escaped() {
        let nasty = "<script>alert('x')</script> & \"q\"\u{0}\u{1b}";
        assert_eq!(
            text(nasty),
            "&lt;script&gt;alert('x')&lt;/script&gt; &amp; \"q\"\u{fffd}\u{fffd}"
        );
        assert_eq!(
            attr(nasty),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;\u{fffd}\u{fffd}"
        );
        assert_eq!(attr("a\nb\tc"), "a&#10;b&#9;c");
        assert_eq!(text("a\nb"), "a\nb");
    }

    #[test]
    fn css_and_json_cannot_close_their_element() {
        assert_eq!(css_string("a\"b\\c</style>"), "\"a\\\"b\\\\c\\3c /style>\"");
        assert_eq!(
            json_in_script(r#"{"a":"</script><!--"}"#),
            r#"{"a":"\u003c/script>\u003c!--"}"#
        );
        let parsed: serde_json::Value =
            serde_json::from_str(&json_in_script(r#"{"a":"</b>"}"#)).unwrap();
        assert_eq!(parsed["a"], "</b>");
    }
}

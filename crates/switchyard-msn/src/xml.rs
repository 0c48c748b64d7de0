//! The little XML the MSN service speaks (personal messages, Passport SOAP): escaping text.

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_round_trips() {
        let text = "a & <b> \"c\" 'd' &amp;";
        assert_eq!(super::escape(text), "a &amp; &lt;b&gt; &quot;c&quot; &apos;d&apos; &amp;amp;");
        assert_eq!(super::unescape(&super::escape(text)), text);
    }
}

//! The cleaning every string read from markup gets: HTML entities decoded, white space
//! collapsed, empty strings dropped.
//!
//! Guarantees: never panics; unknown entities are kept as written.

/// Decodes the common HTML entities left in JSON-LD and meta strings (`&amp;`, `&quot;`,
/// `&#39;`, `&#x27;`, `&nbsp;`, numeric references). Unknown entities are kept as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let tail = rest.get(i..).unwrap_or("");
        let end = tail.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = tail.get(1..e)?;
            let c = match name {
                "amp" => '&',
                "quot" => '"',
                "apos" => '\'',
                "lt" => '<',
                "gt" => '>',
                "nbsp" => ' ',
                "ndash" => '–',
                "mdash" => '—',
                "hellip" => '…',
                "rsquo" => '’',
                "lsquo" => '‘',
                "rdquo" => '”',
                "ldquo" => '“',
                "auml" => 'ä',
                "ouml" => 'ö',
                "uuml" => 'ü',
                "Auml" => 'Ä',
                "Ouml" => 'Ö',
                "Uuml" => 'Ü',
                "szlig" => 'ß',
                "eacute" => 'é',
                _ => {
                    let n = name.strip_prefix('#')?;
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok()?,
                        None => n.parse::<u32>().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = tail.get(e + 1..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

/// `s` with entities decoded and white space collapsed, `None` when nothing is left.
pub(crate) fn clean_text(s: &str) -> Option<String> {
    let t = crate::title::collapse(&decode_entities(s));
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_and_numeric_entities_are_decoded() {
        assert_eq!(decode_entities("Tom &amp; Jerry"), "Tom & Jerry");
        assert_eq!(decode_entities("&quot;Hi&quot; &#39;x&#x27;"), "\"Hi\" 'x'");
        assert_eq!(decode_entities("a&#8211;b&#X2014;c"), "a–b—c");
        assert_eq!(decode_entities("Gr&uuml;&szlig;e"), "Grüße");
    }

    #[test]
    fn unknown_long_or_invalid_entities_are_kept() {
        assert_eq!(decode_entities("&foo; & more"), "&foo; & more");
        assert_eq!(
            decode_entities("&averyverylongname;"),
            "&averyverylongname;"
        );
        assert_eq!(decode_entities("&#xD800; &#zz;"), "&#xD800; &#zz;");
        assert_eq!(decode_entities("no entities"), "no entities");
    }

    #[test]
    fn clean_text_collapses_and_drops_empty() {
        assert_eq!(clean_text("  a&nbsp;&nbsp;b \n").as_deref(), Some("a b"));
        assert_eq!(clean_text(" &nbsp; "), None);
    }
}

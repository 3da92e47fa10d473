//! Decoding a fetched or saved page's bytes into text.
//!
//! The encoding is chosen as a browser would, with one correction for mislabelled pages: a
//! byte-order mark wins; then the `charset` of the HTTP `Content-Type`; then a `<meta
//! charset>` / `<meta http-equiv="Content-Type" content="…; charset=…">` or an XML declaration's
//! `encoding` in the first 8 KiB; then UTF-8 when the bytes are valid UTF-8, else
//! windows-1252 (the web's default for undeclared legacy pages). A declared legacy encoding
//! is overridden by UTF-8 when the bytes are valid UTF-8 and contain non-ASCII sequences:
//! legacy text (single-byte, GBK, Shift_JIS, UTF-16 with non-ASCII characters) almost never
//! forms valid multi-byte UTF-8 by chance, while pages that declare ISO-8859-1 or GB2312 but
//! are served (or were saved) as UTF-8 are common.
//!
//! Guarantees: never panics; every byte sequence decodes (malformed input becomes U+FFFD);
//! labels are resolved with the WHATWG Encoding Standard's label table (`latin1`,
//! `iso-8859-1` → windows-1252 …); a `<meta>` declaring UTF-16 means UTF-8, as in browsers.

use std::sync::OnceLock;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use regex::bytes::Regex;

/// How far into the body a `<meta>` or XML declaration is looked for.
const PRESCAN_BYTES: usize = 8 * 1024;

/// Decodes `bytes` (a page body) into text; `content_type` is the HTTP `Content-Type`
/// header, if any. See the module documentation for how the encoding is chosen.
pub fn decode_html(bytes: &[u8], content_type: Option<&str>) -> String {
    let declared = content_type
        .and_then(charset_param)
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .or_else(|| prescan(bytes));
    let encoding = match declared {
        Some(e) if is_utf8_with_non_ascii(bytes) && e != UTF_8 => UTF_8,
        Some(e) => e,
        None if std::str::from_utf8(bytes).is_ok() => UTF_8,
        None => WINDOWS_1252,
    };
    let (text, _, _) = encoding.decode(bytes);
    text.into_owned()
}

/// The `charset` parameter of a `Content-Type` value.
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']).to_owned())
            .filter(|v| !v.is_empty())
    })
}

/// The encoding a `<meta>` or XML declaration in the first [`PRESCAN_BYTES`] declares.
fn prescan(bytes: &[u8]) -> Option<&'static Encoding> {
    static META: OnceLock<Regex> = OnceLock::new();
    static XML: OnceLock<Regex> = OnceLock::new();
    let head = bytes.get(..PRESCAN_BYTES).unwrap_or(bytes);
    let meta = META.get_or_init(|| {
        Regex::new(r#"(?i-u)<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_:.+-]+)"#)
            .expect("static regex")
    });
    let xml = XML.get_or_init(|| {
        Regex::new(r#"(?i-u)^(?:\xEF\xBB\xBF)?\s*<\?xml[^>]*?encoding\s*=\s*["']([a-z0-9_:.+-]+)"#)
            .expect("static regex")
    });
    let label = meta
        .captures(head)
        .or_else(|| xml.captures(head))
        .and_then(|c| c.get(1))?;
    Encoding::for_label(label.as_bytes()).map(Encoding::output_encoding)
}

fn is_utf8_with_non_ascii(bytes: &[u8]) -> bool {
    !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_charset_wins_over_the_meta() {
        let body = b"<meta charset=\"utf-8\"><p>Gr\xfc\xdfe</p>";
        assert_eq!(
            decode_html(body, Some("text/html; charset=ISO-8859-1")),
            "<meta charset=\"utf-8\"><p>Grüße</p>"
        );
    }

    #[test]
    fn meta_charset_and_http_equiv_are_honoured() {
        assert!(
            decode_html(b"<meta charset='windows-1252'><p>\x93Hi\x94</p>", None).contains("“Hi”")
        );
        let body = b"<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"></head>M\xfcller";
        assert!(decode_html(body, None).ends_with("Müller"));
        let xml = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss>M\xfcnchen</rss>";
        assert!(decode_html(xml, Some("application/xml")).contains("München"));
    }

    #[test]
    fn undeclared_pages_are_utf8_when_valid_else_windows_1252() {
        assert_eq!(decode_html("Grüße".as_bytes(), None), "Grüße");
        assert_eq!(decode_html(b"Gr\xfc\xdfe", None), "Grüße");
    }

    #[test]
    fn a_legacy_declaration_on_a_utf8_body_reads_as_utf8() {
        let body = "<meta charset=\"iso-8859-1\"><p>Grüße</p>".as_bytes();
        assert!(decode_html(body, None).contains("Grüße"));
        let body = "<meta charset=\"gb2312\"><p>新电脑</p>".as_bytes();
        assert!(decode_html(body, None).contains("新电脑"));
    }

    #[test]
    fn a_bom_wins_and_a_meta_utf16_means_utf8() {
        assert_eq!(
            decode_html(
                b"\xEF\xBB\xBFGr\xc3\xbc\xc3\x9fe",
                Some("text/html; charset=latin1")
            ),
            "Grüße"
        );
        assert_eq!(
            decode_html("<meta charset=utf-16>ü".as_bytes(), None),
            "<meta charset=utf-16>ü"
        );
    }
}

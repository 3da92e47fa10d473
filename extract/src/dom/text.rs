//! The page's visible text: its text nodes in page order, each marked as page chrome or not,
//! and where the first `<h1>` starts. Read once per page and shared by every rule that scans
//! running text.

use scraper::{ElementRef, Html};

use super::in_chrome;

/// Visible text nodes of a page, as (character position, collapsed text, in chrome), and
/// the character position of the first `<h1>`: [`text_nodes`]' answer, computed once per
/// page and shared by every rule that reads the page's text.
pub(crate) type TextNodes = (Vec<(usize, String, bool)>, Option<usize>);

/// The page's [`TextNodes`] (one walk of the whole tree).
pub(crate) fn text_nodes(doc: &Html) -> TextNodes {
    use scraper::Node;
    let root = doc.root_element();
    let mut h1_at: Option<usize> = None;
    let mut nodes: Vec<(usize, String, bool)> = Vec::new();
    let mut pos = 0usize;
    for n in root.descendants().take(200_000) {
        match n.value() {
            Node::Element(e) if e.name() == "h1" && h1_at.is_none() => {
                h1_at = Some(pos);
            }
            Node::Text(t) => {
                let parent = n.parent().and_then(ElementRef::wrap);
                let skip = parent.is_some_and(|p| {
                    matches!(
                        p.value().name(),
                        "script" | "style" | "noscript" | "template" | "title" | "option"
                    )
                });
                if skip {
                    continue;
                }
                let text = crate::title::collapse(t);
                if text.is_empty() {
                    continue;
                }
                let chrome = parent.is_some_and(in_chrome);
                pos += text.chars().count() + 1;
                nodes.push((pos, text, chrome));
                if nodes.len() > 20_000 {
                    break;
                }
            }
            _ => {}
        }
    }
    (nodes, h1_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_text_in_order_with_chrome_and_the_first_h1() {
        let doc = Html::parse_document(
            "<head><title>T</title><script>var x</script><style>p{}</style></head><body>\
             <nav><a>Menu</a></nav><p>Hello   world</p><h1>Head</h1><select><option>O</option></select>\
             <h1>Second</h1></body>",
        );
        let (nodes, h1_at) = text_nodes(&doc);
        let expected = vec![
            (5, "Menu".to_string(), true),
            (17, "Hello world".to_string(), false),
            (22, "Head".to_string(), false),
            (29, "Second".to_string(), false),
        ];
        assert_eq!(nodes, expected);
        assert_eq!(h1_at, Some(17));
    }

    #[test]
    fn a_page_without_h1_or_text() {
        let (nodes, h1_at) = text_nodes(&Html::parse_document("<p> </p>"));
        assert!(nodes.is_empty());
        assert_eq!(h1_at, None);
    }
}

//! Value finders: microdata (`itemprop`) values, the values and texts of user CSS selectors,
//! and the raw JSON-LD script blocks.

use scraper::Html;

use super::{sel, value_of};

/// Raw texts of the JSON-LD script blocks.
pub(crate) fn jsonld_blocks(doc: &Html) -> Vec<String> {
    let Some(s) = sel("script") else {
        return Vec::new();
    };
    doc.select(&s)
        .filter(|e| {
            e.value()
                .attr("type")
                .is_some_and(|t| t.to_ascii_lowercase().contains("ld+json"))
        })
        .map(|e| e.text().collect::<String>())
        .take(50)
        .collect()
}

/// Values of elements with `itemprop=NAME` that are not `<meta>` tags (those are in `Meta`).
pub(crate) fn itemprop(doc: &Html, name: &str) -> Vec<String> {
    let Some(s) = sel("[itemprop]") else {
        return Vec::new();
    };
    doc.select(&s)
        .filter(|e| {
            e.value().name() != "meta"
                && e.value()
                    .attr("itemprop")
                    .is_some_and(|p| p.split_whitespace().any(|w| w.eq_ignore_ascii_case(name)))
        })
        .take(20)
        .filter_map(|e| {
            if name == "author" {
                // Prefer the nested itemprop=name.
                let n = sel("[itemprop~=name]").and_then(|ns| e.select(&ns).next());
                if let Some(n) = n {
                    return Some(value_of(n));
                }
            }
            let v = value_of(e);
            (!v.is_empty()).then_some(v)
        })
        .collect()
}

/// Value of the first element matching a user selector (datetime/content attribute or text).
pub(crate) fn select_value(doc: &Html, selector: &str) -> Option<String> {
    let s = sel(selector)?;
    doc.select(&s).map(value_of).find(|v| !v.is_empty())
}

/// Texts of all elements matching a user selector.
pub(crate) fn select_texts(doc: &Html, selector: &str) -> Vec<String> {
    let Some(s) = sel(selector) else {
        return Vec::new();
    };
    doc.select(&s)
        .take(20)
        .map(value_of)
        .filter(|v| !v.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonld_blocks_are_ld_json_scripts_only() {
        let d = Html::parse_document(
            r#"<script type="application/LD+JSON">{"a":1}</script><script>var x</script>"#,
        );
        assert_eq!(jsonld_blocks(&d), vec![r#"{"a":1}"#]);
    }

    #[test]
    fn itemprop_values_outside_meta_with_nested_author_names() {
        let d = Html::parse_document(
            r#"<meta itemprop="author" content="Meta Name"><span itemprop="author">
            <span itemprop="name">Ann Lee</span>, Berlin</span>
            <time itemprop="datePublished dateCreated" datetime="2021-05-03">3 May</time>"#,
        );
        assert_eq!(itemprop(&d, "author"), vec!["Ann Lee"]);
        assert_eq!(itemprop(&d, "datePublished"), vec!["2021-05-03"]);
        assert!(itemprop(&d, "headline").is_empty());
    }

    #[test]
    fn user_selectors_read_values_and_never_fail() {
        let d = Html::parse_document(
            r#"<span class="d"></span><span class="d" content="2021">x</span><p>One</p><p> </p><p>Two</p>"#,
        );
        assert_eq!(select_value(&d, ".d").as_deref(), Some("2021"));
        assert_eq!(select_texts(&d, "p"), vec!["One", "Two"]);
        assert_eq!(select_value(&d, "[["), None);
        assert!(select_texts(&d, "[[").is_empty());
    }
}

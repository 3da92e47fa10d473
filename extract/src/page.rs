//! A page parsed once for extraction: its DOM, `<meta>` tags, JSON-LD, visible text, base URL
//! and the names its site goes by. Every field's cascade reads this one value, so no rule
//! parses or walks the page again.

use std::cell::OnceCell;

use scraper::Html;
use url::Url;

use crate::Selectors;
use crate::dom;
use crate::dom::dates::DateElement;
use crate::dom::text::TextNodes;
use crate::jsonld::{self, JsonLd};
use crate::meta::Meta;
use crate::site;

/// One page, parsed, with what the extraction rules share.
pub(crate) struct Page<'a> {
    /// The document, parsed as a browser with scripting off parses it.
    pub(crate) doc: Html,
    /// The page's address, when known.
    pub(crate) url: Option<&'a Url>,
    /// `<base href>` resolved against `url`, else `url`: what links are resolved against.
    pub(crate) base: Option<Url>,
    /// Site-specific CSS selectors (all `None` when none were given).
    pub(crate) selectors: Selectors,
    /// The page's `<meta>` tags.
    pub(crate) meta: Meta,
    /// What the page's JSON-LD says about the article and its site.
    pub(crate) ld: JsonLd,
    /// The page's visible text nodes and where its first `<h1>` starts.
    pub(crate) texts: TextNodes,
    /// The site's name ([`site::name`]).
    pub(crate) site_name: Option<String>,
    /// Every name the site goes by ([`site::names`]), to recognise it in titles and bylines.
    pub(crate) sites: Vec<String>,
    /// The page's date elements, found on first use.
    date_elements: OnceCell<Vec<DateElement>>,
}

impl<'a> Page<'a> {
    /// Parses `html` served at `url` once and reads what every field's rules share. Never panics.
    pub(crate) fn parse(html: &str, url: Option<&'a Url>, selectors: Option<&Selectors>) -> Self {
        let doc = parse_without_scripting(html);
        let texts = dom::text::text_nodes(&doc);
        let meta = Meta::from_doc(&doc);
        let ld = jsonld::parse(&dom::values::jsonld_blocks(&doc));
        let base = dom::links::base_url(&doc, url);
        let site_name = site::name(&meta, &ld);
        let sites = site::names(site_name.as_deref(), &ld, url.or(base.as_ref()));
        Page {
            doc,
            url,
            base,
            selectors: selectors.cloned().unwrap_or_default(),
            meta,
            ld,
            texts,
            site_name,
            sites,
            date_elements: OnceCell::new(),
        }
    }

    /// The page's date elements ([`dom::dates::date_elements`]), found once, on first use.
    pub(crate) fn date_elements(&self) -> &[DateElement] {
        self.date_elements
            .get_or_init(|| dom::dates::date_elements(&self.doc))
            .as_slice()
    }

    /// The value of the first element the user selector `selector` matches, if one is given.
    pub(crate) fn selected(&self, selector: Option<&str>) -> Option<String> {
        selector.and_then(|s| dom::values::select_value(&self.doc, s))
    }
}

/// Parses `html` as a browser with scripting disabled does: the content of `<noscript>` is
/// markup, not text, so a byline or date that a page repeats there for readers without
/// JavaScript (Blogger's templates, lazy-loading themes) is seen. Nesting past
/// [`crate::depth::MAX_DEPTH`] is dropped first, which bounds the parse's time.
fn parse_without_scripting(html: &str) -> Html {
    use html5ever::tendril::TendrilSink;
    let opts = html5ever::ParseOpts {
        tree_builder: html5ever::tree_builder::TreeBuilderOpts {
            scripting_enabled: false,
            ..Default::default()
        },
        ..Default::default()
    };
    html5ever::parse_document(scraper::HtmlTreeSink::new(Html::new_document()), opts)
        .one(&*crate::depth::bound_html(html))
}

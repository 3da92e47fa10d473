//! A bound on how deeply a page's elements nest, applied before any parser sees the page.
//!
//! html5ever's tree builder walks its stack of open elements for many tokens, so a page of
//! deeply nested markup costs time quadratic in its size (880 KB of nested `<div>` took 20 s),
//! and it cannot be interrupted. [`bound_html`] and [`bound_xml`] are one cheap pass over the
//! tokens that drops every start tag that would open an element deeper than [`MAX_DEPTH`]
//! (Chromium builds no deeper than 512 either), together with its end tag, and keeps
//! everything else, the text of dropped elements included.
//!
//! The HTML pass models what the tree builder does with sloppy markup closely enough that an
//! ordinary page comes out byte for byte unchanged: the start tags of `html`, `head` and
//! `body`, void elements, self-closing tags in SVG and MathML, comments, doctypes and the
//! contents of `script`, `style`, `textarea`, `title` and similar raw-text elements nest
//! nothing; `<p>`, `<li>`, `<dd>`/`<dt>`, table rows and cells, `<option>`, `<a>` and headings
//! close the elements the HTML standard closes for them (looked up among the innermost 64
//! open elements); an end tag closes the innermost open element of its name and everything
//! opened inside it. Formatting elements (`<b>`, `<font>`…) closed implicitly count as still
//! open, as the tree builder reopens them (at most three alike, as it keeps at most three),
//! until an end tag of their name or the end of the table cell they were opened in. An end
//! tag that closes nothing is dropped. The model counts depth at least as deep as the tree
//! builder builds it, so the parser's stack stays within about [`MAX_DEPTH`] elements.
//!
//! Depth alone does not bound the work: the tree builder (and the extractor's descendant
//! selectors) walk the open elements for many tags, so a page of a million tags that each
//! open at depth 500 (`<ul><li>` repeated: every `<li>` closes the previous one) still costs
//! a million times 500. Each kept start tag is therefore charged the depth it opens at, and
//! once the page has spent [`WORK_BUDGET`] every further start tag is dropped as well. An
//! ordinary page spends well under a tenth of it (5 MiB of flat paragraphs: about 1 million).
//!
//! Guarantees: time linear in the input (at most 64 steps per tag besides the pops its
//! pushes pay for); never panics; the output is the input, borrowed, when nothing is dropped,
//! and valid UTF-8 for UTF-8 input (only whole tags are removed).

use std::borrow::Cow;
use std::collections::HashMap;

/// The deepest element nesting kept.
pub const MAX_DEPTH: usize = 512;

/// The total depth, over a page's kept start tags, past which further start tags are dropped.
pub const WORK_BUDGET: u64 = 16_000_000;

/// How many of the innermost open elements an implied close looks through.
const WALK: usize = 64;

/// How many alike formatting elements the tree builder keeps to reopen.
const NOAHS_ARK: u32 = 3;

/// `html` with every start tag nested deeper than [`MAX_DEPTH`] (and its end tag) removed.
pub fn bound_html(html: &str) -> Cow<'_, str> {
    to_str(html, Bounder::new(html.as_bytes(), Mode::Html).run())
}

/// An XML document (a feed) with every start tag nested deeper than [`MAX_DEPTH`] (and its
/// end tag) removed; XML has no implied closes, and `<x/>` is always empty.
pub fn bound_xml(xml: &[u8]) -> Cow<'_, [u8]> {
    Bounder::new(xml, Mode::Xml).run()
}

fn to_str<'a>(original: &'a str, bounded: Cow<'_, [u8]>) -> Cow<'a, str> {
    match bounded {
        Cow::Borrowed(_) => Cow::Borrowed(original),
        Cow::Owned(bytes) => Cow::Owned(
            String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Html,
    Xml,
}

/// A lower-cased tag name's identity (FNV-1a).
type Name = u64;

const fn name(s: &[u8]) -> Name {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < s.len() {
        hash ^= s[i].to_ascii_lowercase() as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

macro_rules! names {
    ($($id:ident = $s:literal),* $(,)?) => { $(const $id: Name = name($s);)* };
}

names!(
    HTML = b"html",
    HEAD = b"head",
    BODY = b"body",
    P = b"p",
    LI = b"li",
    UL = b"ul",
    OL = b"ol",
    DD = b"dd",
    DT = b"dt",
    DL = b"dl",
    A = b"a",
    TR = b"tr",
    TD = b"td",
    TH = b"th",
    TABLE = b"table",
    OPTION = b"option",
    OPTGROUP = b"optgroup",
    SELECT = b"select",
    BUTTON = b"button",
    NOBR = b"nobr",
    BR = b"br",
    SVG = b"svg",
    MATH = b"math",
    PLAINTEXT = b"plaintext",
    H1 = b"h1",
    H2 = b"h2",
    H3 = b"h3",
    H4 = b"h4",
    H5 = b"h5",
    H6 = b"h6",
    CAPTION = b"caption",
    APPLET = b"applet",
    OBJECT = b"object",
    MARQUEE = b"marquee",
    TEMPLATE = b"template",
);

const VOID: &[Name] = &[
    name(b"area"),
    name(b"base"),
    name(b"basefont"),
    name(b"bgsound"),
    BR,
    name(b"col"),
    name(b"embed"),
    name(b"frame"),
    name(b"hr"),
    name(b"image"),
    name(b"img"),
    name(b"input"),
    name(b"keygen"),
    name(b"link"),
    name(b"meta"),
    name(b"param"),
    name(b"source"),
    name(b"track"),
    name(b"wbr"),
];

/// Elements whose content is text up to their end tag.
const RAW_TEXT: &[Name] = &[
    name(b"script"),
    name(b"style"),
    name(b"textarea"),
    name(b"title"),
    name(b"xmp"),
    name(b"iframe"),
    name(b"noembed"),
    name(b"noframes"),
];

const FORMATTING: &[Name] = &[
    A,
    name(b"b"),
    name(b"big"),
    name(b"code"),
    name(b"em"),
    name(b"font"),
    name(b"i"),
    NOBR,
    name(b"s"),
    name(b"small"),
    name(b"strike"),
    name(b"strong"),
    name(b"tt"),
    name(b"u"),
];

/// Elements that clear the formatting elements opened inside them when they close.
const MARKERS: &[Name] = &[TD, TH, CAPTION, APPLET, OBJECT, MARQUEE, TEMPLATE];

/// Start tags that close an open `<p>`.
const CLOSES_P: &[Name] = &[
    P,
    name(b"address"),
    name(b"article"),
    name(b"aside"),
    name(b"blockquote"),
    name(b"center"),
    name(b"details"),
    name(b"dialog"),
    name(b"dir"),
    name(b"div"),
    DL,
    DD,
    DT,
    name(b"fieldset"),
    name(b"figcaption"),
    name(b"figure"),
    name(b"footer"),
    name(b"form"),
    name(b"header"),
    name(b"hgroup"),
    name(b"hr"),
    LI,
    name(b"listing"),
    name(b"main"),
    name(b"menu"),
    name(b"nav"),
    OL,
    name(b"pre"),
    name(b"search"),
    name(b"section"),
    name(b"summary"),
    TABLE,
    UL,
    H1,
    H2,
    H3,
    H4,
    H5,
    H6,
    PLAINTEXT,
    name(b"xmp"),
];

/// Elements a `<p>` is not looked for past ("button scope").
const SCOPE: &[Name] = &[
    HTML, TABLE, TD, TH, CAPTION, APPLET, OBJECT, MARQUEE, TEMPLATE, BUTTON, SVG, MATH,
];

const HEADINGS: &[Name] = &[H1, H2, H3, H4, H5, H6];

#[derive(Debug, Clone, Copy)]
struct Open {
    name: Name,
    /// For formatting elements: the name and attributes, alike elements sharing it.
    key: Option<u64>,
    /// For markers: how many formatting elements were pending when it opened.
    pending_at: Option<usize>,
}

struct Bounder<'a> {
    input: &'a [u8],
    mode: Mode,
    out: Option<Vec<u8>>,
    /// Input copied to `out` (or to be, when something is dropped) up to here.
    copied: usize,
    stack: Vec<Open>,
    open: HashMap<Name, u32>,
    dropped: HashMap<Name, u32>,
    /// Formatting elements closed implicitly, which the tree builder reopens: name and key.
    pending: Vec<(Name, u64)>,
    pending_names: HashMap<Name, u32>,
    pending_keys: HashMap<u64, u32>,
    /// The depth charged so far (see [`WORK_BUDGET`]).
    work: u64,
}

fn bump(map: &mut HashMap<Name, u32>, k: Name, up: bool) {
    let n = map.entry(k).or_insert(0);
    *n = if up {
        n.saturating_add(1)
    } else {
        n.saturating_sub(1)
    };
}

fn count(map: &HashMap<Name, u32>, k: Name) -> u32 {
    map.get(&k).copied().unwrap_or(0)
}

impl<'a> Bounder<'a> {
    fn new(input: &'a [u8], mode: Mode) -> Self {
        Self {
            input,
            mode,
            out: None,
            copied: 0,
            stack: Vec::new(),
            open: HashMap::new(),
            dropped: HashMap::new(),
            pending: Vec::new(),
            pending_names: HashMap::new(),
            pending_keys: HashMap::new(),
            work: 0,
        }
    }

    fn run(mut self) -> Cow<'a, [u8]> {
        let b = self.input;
        let mut i = 0;
        while let Some(at) = find_byte(b, i, b'<') {
            i = at;
            let rest = &b[i..];
            if rest.starts_with(b"<!--") {
                i = find(b, i + 4, b"-->").map_or(b.len(), |e| e + 3);
            } else if rest.starts_with(b"<![CDATA[") {
                i = find(b, i + 9, b"]]>").map_or(b.len(), |e| e + 3);
            } else if matches!(rest.get(1), Some(b'!' | b'?')) {
                i = find_byte(b, i + 2, b'>').map_or(b.len(), |e| e + 1);
            } else if rest.get(1) == Some(&b'/') && rest.get(2).is_some_and(u8::is_ascii_alphabetic)
            {
                let (tag, name_end) = tag_name(b, i + 2);
                let Some(close) = find_byte(b, name_end, b'>') else {
                    break;
                };
                self.end_tag(tag, i, close + 1);
                i = close + 1;
            } else if rest.get(1).is_some_and(u8::is_ascii_alphabetic) {
                let (tag, name_end) = tag_name(b, i + 1);
                let Some(close) = tag_close(b, name_end) else {
                    break;
                };
                let self_closing = close > name_end && b[close - 1] == b'/';
                let attributes = &b[name_end..close];
                i = close + 1;
                if self.mode == Mode::Html && tag == PLAINTEXT {
                    self.start_tag(tag, attributes, self_closing, at, i);
                    break;
                }
                if self.mode == Mode::Html && RAW_TEXT.contains(&tag) {
                    i = skip_raw_text(b, i, &b[at + 1..name_end]);
                    continue;
                }
                self.start_tag(tag, attributes, self_closing, at, i);
            } else {
                i += 1;
            }
        }
        match self.out {
            None => Cow::Borrowed(b),
            Some(mut out) => {
                out.extend_from_slice(&b[self.copied..]);
                Cow::Owned(out)
            }
        }
    }

    /// Leaves `input[start..end]` out of the output.
    fn drop_tag(&mut self, start: usize, end: usize) {
        let b = self.input;
        let out = self.out.get_or_insert_with(|| Vec::with_capacity(b.len()));
        out.extend_from_slice(&b[self.copied..start]);
        self.copied = end;
    }

    fn depth(&self) -> usize {
        self.stack.len() + self.pending.len()
    }

    fn start_tag(
        &mut self,
        tag: Name,
        attributes: &[u8],
        self_closing: bool,
        at: usize,
        end: usize,
    ) {
        let opens = match self.mode {
            Mode::Xml => !self_closing,
            Mode::Html => {
                if matches!(tag, HTML | HEAD | BODY) {
                    return;
                }
                self.implied_closes(tag);
                let foreign = count(&self.open, SVG) + count(&self.open, MATH) > 0;
                !(VOID.contains(&tag) || (self_closing && foreign))
            }
        };
        let depth = self.depth();
        if (opens && depth >= MAX_DEPTH) || self.work >= WORK_BUDGET {
            if opens {
                bump(&mut self.dropped, tag, true);
            }
            self.drop_tag(at, end);
            return;
        }
        self.work += depth as u64 + 1;
        if !opens {
            return;
        }
        let key = (self.mode == Mode::Html && FORMATTING.contains(&tag)).then(|| {
            name(
                attributes
                    .trim_ascii_end()
                    .strip_suffix(b"/")
                    .unwrap_or(attributes),
            ) ^ tag
        });
        self.push(tag, key);
    }

    fn push(&mut self, tag: Name, key: Option<u64>) {
        let pending_at = MARKERS.contains(&tag).then_some(self.pending.len());
        self.stack.push(Open {
            name: tag,
            key,
            pending_at,
        });
        bump(&mut self.open, tag, true);
    }

    /// Pops the innermost open element; a formatting element closed this way by `other`'s
    /// end tag stays pending.
    fn pop(&mut self, implicitly: bool) {
        let Some(top) = self.stack.pop() else {
            return;
        };
        bump(&mut self.open, top.name, false);
        if let Some(len) = top.pending_at {
            while self.pending.len() > len {
                self.unpend_last();
            }
        }
        if let (true, Some(key)) = (implicitly && self.mode == Mode::Html, top.key)
            && count(&self.pending_keys, key) < NOAHS_ARK
        {
            self.pending.push((top.name, key));
            bump(&mut self.pending_names, top.name, true);
            bump(&mut self.pending_keys, key, true);
        }
    }

    fn unpend_last(&mut self) {
        if let Some((n, key)) = self.pending.pop() {
            bump(&mut self.pending_names, n, false);
            bump(&mut self.pending_keys, key, false);
        }
    }

    /// Pops up to and including the innermost open `tag`, which must be open.
    fn close(&mut self, tag: Name) {
        while let Some(top) = self.stack.last().map(|o| o.name) {
            let found = top == tag;
            self.pop(!found);
            if found {
                break;
            }
        }
    }

    /// Whether one of `targets` is among the innermost [`WALK`] open elements before any of
    /// `stops`; the first one found.
    fn find_open(&self, targets: &[Name], stops: &[Name]) -> Option<Name> {
        if targets.iter().all(|t| count(&self.open, *t) == 0) {
            return None;
        }
        for open in self.stack.iter().rev().take(WALK) {
            if targets.contains(&open.name) {
                return Some(open.name);
            }
            if stops.contains(&open.name) {
                return None;
            }
        }
        None
    }

    fn implied_closes(&mut self, tag: Name) {
        if CLOSES_P.contains(&tag)
            && let Some(p) = self.find_open(&[P], SCOPE)
        {
            self.close(p);
        }
        let rule: Option<(&[Name], &[Name])> = match tag {
            LI => Some((&[LI], &[UL, OL, TABLE, HTML])),
            DD | DT => Some((&[DD, DT], &[DL, TABLE, HTML])),
            TR => Some((&[TR], &[TABLE, HTML])),
            TD | TH => Some((&[TD, TH], &[TR, TABLE, HTML])),
            A => Some((&[A], &[TABLE, TD, TH, HTML])),
            NOBR => Some((&[NOBR], SCOPE)),
            BUTTON => Some((&[BUTTON], SCOPE)),
            OPTION | OPTGROUP => Some((&[OPTION], &[SELECT, OPTGROUP, HTML])),
            _ => None,
        };
        if let Some((targets, stops)) = rule
            && let Some(open) = self.find_open(targets, stops)
        {
            self.close(open);
        }
        if HEADINGS.contains(&tag)
            && self
                .stack
                .last()
                .is_some_and(|o| HEADINGS.contains(&o.name))
        {
            self.pop(false);
        }
        if tag == A && count(&self.open, A) == 0 && count(&self.pending_names, A) > 0 {
            self.unpend(A);
        }
    }

    /// Forgets the latest pending formatting element named `tag`.
    fn unpend(&mut self, tag: Name) {
        if let Some(at) = self.pending.iter().rposition(|(n, _)| *n == tag) {
            let (n, key) = self.pending.remove(at);
            bump(&mut self.pending_names, n, false);
            bump(&mut self.pending_keys, key, false);
        }
    }

    fn end_tag(&mut self, tag: Name, at: usize, end: usize) {
        if count(&self.dropped, tag) > 0 {
            bump(&mut self.dropped, tag, false);
            self.drop_tag(at, end);
            return;
        }
        if self.mode == Mode::Html && matches!(tag, HTML | HEAD | BODY | BR) {
            return;
        }
        if count(&self.open, tag) > 0 {
            self.close(tag);
        } else if self.mode == Mode::Html && count(&self.pending_names, tag) > 0 {
            self.unpend(tag);
        } else {
            self.drop_tag(at, end);
        }
    }
}

fn find_byte(b: &[u8], from: usize, byte: u8) -> Option<usize> {
    b.get(from..)?
        .iter()
        .position(|&c| c == byte)
        .map(|p| from + p)
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while let Some(at) = find_byte(b, i, first) {
        if b.get(at..at + needle.len()) == Some(needle) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// The tag name starting at `from` and where it ends.
fn tag_name(b: &[u8], from: usize) -> (Name, usize) {
    let end = b
        .get(from..)
        .and_then(|rest| {
            rest.iter()
                .position(|c| c.is_ascii_whitespace() || matches!(c, b'/' | b'>'))
        })
        .map_or(b.len(), |p| from + p);
    (name(&b[from..end]), end)
}

/// The `>` that ends a start tag whose attributes start at `from`; quoted values may hold `>`.
fn tag_close(b: &[u8], from: usize) -> Option<usize> {
    let mut quote = None;
    let mut after_equals = false;
    for (offset, &c) in b.get(from..)?.iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'>' => return Some(from + offset),
                b'"' | b'\'' if after_equals => quote = Some(c),
                b'=' => after_equals = true,
                c if c.is_ascii_whitespace() => {}
                _ => after_equals = false,
            },
        }
    }
    None
}

/// Where the raw text of element `tag` (starting at `from`) ends: past its end tag, or at
/// the end of the input.
fn skip_raw_text(b: &[u8], from: usize, tag: &[u8]) -> usize {
    let mut i = from;
    while let Some(at) = find(b, i, b"</") {
        let name_end = at + 2 + tag.len();
        let matches = b
            .get(at + 2..name_end)
            .is_some_and(|n| n.eq_ignore_ascii_case(tag))
            && b.get(name_end)
                .is_none_or(|c| c.is_ascii_whitespace() || matches!(c, b'/' | b'>'));
        if matches {
            return find_byte(b, name_end, b'>').map_or(b.len(), |e| e + 1);
        }
        i = at + 2;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(tag: &str, n: usize, text: &str) -> String {
        format!(
            "{}{text}{}",
            format!("<{tag}>").repeat(n),
            format!("</{tag}>").repeat(n)
        )
    }

    #[test]
    fn an_ordinary_page_is_left_as_it_is() {
        let page = r#"<!doctype html><html><head><title>A <b>title</b></title>
            <script>if (a < b && "</div>") {}</script><style>p > a {}</style>
            <meta charset=utf-8><link rel=canonical href="/x"></head>
            <body><div class="x > y"><p>One<p>Two<ul><li>a<li>b</ul>
            <table><tr><td>1<td>2<tr><td>3</table><p><b>bold<i>both</b>italic</i>
            <svg><path d="M0"/><path/></svg><br/><img src=a.png>
            <!-- <div><div> --><![CDATA[ <x> ]]></div></body></html>"#;
        assert!(matches!(bound_html(page), Cow::Borrowed(_)));
    }

    #[test]
    fn nesting_past_the_bound_is_dropped_and_its_text_kept() {
        let page = nested("div", MAX_DEPTH + 100, "deep text");
        let bounded = bound_html(&page);
        assert_eq!(bounded.matches("<div>").count(), MAX_DEPTH);
        assert_eq!(bounded.matches("</div>").count(), MAX_DEPTH);
        assert!(bounded.contains("deep text"));
        assert_eq!(
            bound_html(&bounded),
            bounded,
            "a bounded page stays as it is"
        );
        let shallow = nested("div", MAX_DEPTH, "x");
        assert!(matches!(bound_html(&shallow), Cow::Borrowed(_)));
    }

    #[test]
    fn unclosed_paragraphs_list_items_and_cells_do_not_count_as_nesting() {
        let page = format!(
            "<ul>{}</ul><table>{}</table>{}",
            "<li><a href=/a>x</a>".repeat(3 * MAX_DEPTH),
            "<tr><td>1<td>2".repeat(3 * MAX_DEPTH),
            "<p>para".repeat(3 * MAX_DEPTH)
        );
        assert!(matches!(bound_html(&page), Cow::Borrowed(_)));
    }

    #[test]
    fn formatting_elements_the_parser_reopens_count_as_open() {
        let blocks: String = (0..MAX_DEPTH)
            .map(|i| format!("<div><b class=c{i}></div>text"))
            .collect();
        let bounded = bound_html(&blocks);
        assert!(bounded.matches("<b ").count() < MAX_DEPTH, "some dropped");
        let alike = "<div><b></div>text".repeat(4 * MAX_DEPTH);
        assert!(
            matches!(bound_html(&alike), Cow::Borrowed(_)),
            "at most three alike are reopened"
        );
        let cells = "<td><font color=red>x</td>".repeat(4 * MAX_DEPTH);
        let page = format!("<table><tr>{cells}</table>");
        assert!(
            matches!(bound_html(&page), Cow::Borrowed(_)),
            "cells clear them"
        );
    }

    #[test]
    fn many_tags_opened_deep_are_bounded_by_the_work_budget() {
        let lists = "<ul><li>x".repeat(500_000);
        let bounded = bound_html(&lists);
        let kept = bounded.matches("<li>").count();
        assert!(
            kept as u64 * 256 <= WORK_BUDGET && kept > 1000,
            "{kept} list items kept"
        );
        assert_eq!(
            bounded.matches('x').count(),
            500_000,
            "the text is all kept"
        );
        let siblings = format!(
            "<div><div><div>{}</div></div></div>",
            "<p>a<b>b</b></p>".repeat(300_000)
        );
        assert!(
            matches!(bound_html(&siblings), Cow::Borrowed(_)),
            "5 MiB of flat markup is within the budget"
        );
    }

    #[test]
    fn end_tags_that_close_nothing_are_dropped() {
        assert_eq!(bound_html("a</div></span>b</p>c"), "abc");
        assert_eq!(
            bound_html("<p>x</br></body></html>"),
            "<p>x</br></body></html>"
        );
    }

    #[test]
    fn unterminated_markup_is_left_alone() {
        for page in [
            "<div",
            "<div class='>",
            "<!-- x",
            "<script>x",
            "</div",
            "<",
            "<<>>",
        ] {
            let _ = bound_html(page);
        }
        assert_eq!(bound_html("<script>x"), "<script>x");
    }

    #[test]
    fn xml_nesting_is_bounded_and_empty_elements_are_not_nesting() {
        let xml = nested("x", MAX_DEPTH + 5, "t");
        let bounded = bound_xml(xml.as_bytes());
        let text = String::from_utf8(bounded.into_owned()).unwrap();
        assert_eq!(text.matches("<x>").count(), MAX_DEPTH);
        let flat = format!("<rss>{}</rss>", "<item><guid/><p>a</p></item>".repeat(2000));
        assert!(matches!(bound_xml(flat.as_bytes()), Cow::Borrowed(_)));
    }

    #[test]
    fn multibyte_text_survives() {
        let page = nested("span", MAX_DEPTH + 1, "héllo → ✓");
        assert!(bound_html(&page).contains("héllo → ✓"));
    }
}

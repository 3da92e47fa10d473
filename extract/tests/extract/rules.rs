//! The extractor's rules: one small handwritten page per rule, against the public API.

use mediawarm_extract::{Extracted, Selectors as ExtractSelectors, extract};
use url::Url;

fn u(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn day(x: &Extracted) -> Option<String> {
    x.published.map(|d| d.format("%Y-%m-%d %z").to_string())
}

#[test]
fn jsonld_article_wins() {
    let html = r#"<html><head><title>Ignored | Paper</title>
    <script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",
    "headline":"Rates rise again","author":[{"@type":"Person","name":"Ann Lee"},{"@type":"Person","name":"Bob Roe"}],
    "datePublished":"2021-03-05T10:00:00+01:00","description":"Summary."}</script></head><body></body></html>"#;
    let x = extract(html, None, None);
    assert_eq!(x.title.as_deref(), Some("Rates rise again"));
    assert_eq!(x.authors, vec!["Ann Lee", "Bob Roe"]);
    assert_eq!(day(&x).unwrap(), "2021-03-05 +0100");
    assert_eq!(x.description.as_deref(), Some("Summary."));
}

#[test]
fn opengraph_and_article_meta() {
    let html = r#"<head><meta property="og:title" content="Headline here">
    <meta property="og:site_name" content="Paper">
    <meta property="article:published_time" content="2020-01-02T08:00:00-05:00">
    <meta property="article:author" content="https://facebook.com/ann">
    <meta name="author" content="Ann Lee"></head>"#;
    let x = extract(html, None, None);
    assert_eq!(x.title.as_deref(), Some("Headline here"));
    assert_eq!(x.authors, vec!["Ann Lee"]);
    assert_eq!(day(&x).unwrap(), "2020-01-02 -0500");
    assert_eq!(x.site_name.as_deref(), Some("Paper"));
}

#[test]
fn dublin_core_and_parsely_meta() {
    let html = r#"<head><meta name="DC.date" content="2019-07-08"><meta name="DC.creator" content="Max Muster">
    </head>"#;
    let x = extract(html, None, None);
    assert_eq!(day(&x).unwrap(), "2019-07-08 +0000");
    assert_eq!(x.authors, vec!["Max Muster"]);
    let html = r#"<head><meta name="parsely-author" content="Eva Roe"><meta name="sailthru.date" content="2019-07-09"></head>"#;
    let x = extract(html, None, None);
    assert_eq!(x.authors, vec!["Eva Roe"]);
    assert_eq!(day(&x).unwrap(), "2019-07-09 +0000");
}

#[test]
fn title_tag_suffix_removed() {
    let html = "<head><title>Big storm hits coast – Daily Paper</title></head>";
    let x = extract(html, Some(&u("https://www.dailypaper.com/a")), None);
    assert_eq!(x.title.as_deref(), Some("Big storm hits coast"));
}

#[test]
fn h1_agreeing_with_title_wins() {
    let html = r#"<head><title>Paper | Storm news: the big one</title></head>
    <body><h1>Logo</h1><article><h1>Storm news: the big one</h1></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.title.as_deref(), Some("Storm news: the big one"));
}

#[test]
fn time_element_in_article_preferred() {
    let html = r#"<body><aside><time datetime="2000-01-01">old</time></aside>
    <article><header><time datetime="2021-06-07T09:00:00+02:00">7. Juni 2021</time></header></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(day(&x).unwrap(), "2021-06-07 +0200");
}

#[test]
fn itemprop_microdata() {
    let html = r#"<body><article><span itemprop="author" itemscope><span itemprop="name">Eva Maier</span></span>
    <span itemprop="datePublished" content="2018-11-12">12.11.2018</span></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.authors, vec!["Eva Maier"]);
    assert_eq!(day(&x).unwrap(), "2018-11-12 +0000");
}

#[test]
fn rel_author_link() {
    let html = r#"<body><article><a rel="author" href="/u/jo">Jo Black</a></article></body>"#;
    assert_eq!(extract(html, None, None).authors, vec!["Jo Black"]);
}

#[test]
fn byline_class_cleanup() {
    let html = r#"<body><article><h1>A headline for the test</h1>
    <div class="byline">Von Max Muster und Erika Beispiel | 3. März 2021</div><p>Text</p></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.authors, vec!["Max Muster", "Erika Beispiel"]);
    assert_eq!(day(&x).unwrap(), "2021-03-03 +0000");
}

#[test]
fn text_byline_and_text_date() {
    let html = r#"<body><h1>Ein Titel mit Worten</h1><p>Text von Lena Graf</p>
    <p>Veröffentlicht am 12.04.2019</p><p>Body text.</p></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.authors, vec!["Lena Graf"]);
    assert_eq!(day(&x).unwrap(), "2019-04-12 +0000");
}

#[test]
fn url_date_last_resort() {
    let x = extract(
        "<p>nothing</p>",
        Some(&u("https://x.org/2021/03/05/slug/")),
        None,
    );
    assert_eq!(day(&x).unwrap(), "2021-03-05 +0000");
}

#[test]
fn selectors_win() {
    let html = r#"<head><meta property="og:title" content="Generic"></head><body>
    <div class="hl">Specific title</div><span class="who">By Kim Park</span>
    <span class="when">January 5, 2021</span><p class="sum">Short summary</p></body>"#;
    let sel = ExtractSelectors {
        title: Some(".hl".into()),
        author: Some(".who".into()),
        date: Some(".when".into()),
        summary: Some(".sum".into()),
    };
    let x = extract(html, None, Some(&sel));
    assert_eq!(x.title.as_deref(), Some("Specific title"));
    assert_eq!(x.authors, vec!["Kim Park"]);
    assert_eq!(day(&x).unwrap(), "2021-01-05 +0000");
    assert_eq!(x.description.as_deref(), Some("Short summary"));
    // Invalid or non-matching selectors fall back to the generic rules.
    let bad = ExtractSelectors {
        title: Some("[[[".into()),
        ..Default::default()
    };
    assert_eq!(
        extract(html, None, Some(&bad)).title.as_deref(),
        Some("Generic")
    );
}

#[test]
fn feed_links_resolved_also_in_body() {
    let html = r#"<head><link rel="alternate" type="application/rss+xml" href="/feed.xml">
    <link rel="alternate" type="application/json" href="/wp-json/wp/v2/posts/1">
    <link rel="alternate" hreflang="de" href="/de/"></head>
    <body><link rel="alternate" type="application/atom+xml" href="atom.xml"></body>"#;
    let x = extract(html, Some(&u("https://ex.org/blog/post")), None);
    assert_eq!(
        x.feed_links,
        vec!["https://ex.org/feed.xml", "https://ex.org/blog/atom.xml"]
    );
}

#[test]
fn canonical_resolved() {
    let html = r#"<head><link rel="canonical" href="/a/b"></head>"#;
    let x = extract(html, Some(&u("https://ex.org/x?utm=1")), None);
    assert_eq!(x.canonical_url.as_deref(), Some("https://ex.org/a/b"));
    // Without <link rel=canonical>: og:url, then the JSON-LD url, each resolved.
    let page = |og: &str| {
        format!(
            r#"<head>{og}<script type="application/ld+json">{{"@type":"NewsArticle",
            "headline":"H","url":"/from-jsonld"}}</script></head>"#
        )
    };
    let x = extract(
        &page(r#"<meta property="og:url" content="/from-og">"#),
        Some(&u("https://ex.org/x")),
        None,
    );
    assert_eq!(x.canonical_url.as_deref(), Some("https://ex.org/from-og"));
    let x = extract(&page(""), Some(&u("https://ex.org/x")), None);
    assert_eq!(
        x.canonical_url.as_deref(),
        Some("https://ex.org/from-jsonld")
    );
}

#[test]
fn description_from_opengraph_before_the_plain_meta() {
    let html = r#"<head><meta name="description" content="Plain &amp; short">
    <meta property="og:description" content="  Shared   summary "></head>"#;
    let x = extract(html, None, None);
    assert_eq!(x.description.as_deref(), Some("Shared summary"));
    let html = r#"<head><meta name="description" content="Plain &amp; short"></head>"#;
    assert_eq!(
        extract(html, None, None).description.as_deref(),
        Some("Plain & short")
    );
}

#[test]
fn site_name_yields_to_a_person_and_stands_alone_otherwise() {
    let html = r#"<head><meta property="og:site_name" content="Daily Paper">
    <meta name="author" content="Daily Paper"></head>
    <body><article><h1>Storm</h1><span class="byline">By Ann Lee</span></article></body>"#;
    assert_eq!(extract(html, None, None).authors, vec!["Ann Lee"]);
    let html = r#"<head><meta property="og:site_name" content="Daily Paper">
    <meta name="author" content="Daily Paper"></head>"#;
    let x = extract(html, None, None);
    assert!(x.authors.is_empty());
    assert_eq!(x.publisher.as_deref(), Some("Daily Paper"));
}

#[test]
fn empty_input() {
    let x = extract("", None, None);
    assert_eq!(x, Extracted::default());
}

#[test]
fn lone_first_name_upgraded() {
    let html = r#"<head><script type="application/ld+json">{"@type":"Article","author":{"name":"Nils"}}</script></head>
    <body><article><h1>Some headline here</h1><span class="author-name">Nils Becker</span></article></body>"#;
    assert_eq!(extract(html, None, None).authors, vec!["Nils Becker"]);
}

#[test]
fn a_utc_local_midnight_keeps_the_day_the_page_meant() {
    let html = r#"<head><meta property="article:published_time" content="2019-03-03T23:00:00.000Z">
    </head>"#;
    let x = extract(html, None, None);
    assert_eq!(day(&x).unwrap(), "2019-03-04 +0100");
    assert_eq!(
        x.published.map(|d| d.timestamp()),
        chrono::DateTime::parse_from_rfc3339("2019-03-03T23:00:00Z")
            .ok()
            .map(|d| d.timestamp()),
        "the same instant"
    );
    let summer = extract(
        r#"<head><meta property="article:published_time" content="2019-07-09T22:00:00Z"></head>"#,
        None,
        None,
    );
    assert_eq!(day(&summer).unwrap(), "2019-07-10 +0200");
    let evening = extract(
        r#"<head><meta property="article:published_time" content="2019-07-09T23:17:00Z"></head>"#,
        None,
        None,
    );
    assert_eq!(day(&evening).unwrap(), "2019-07-09 +0000");
}

#[test]
fn an_ambiguous_slash_meta_date_follows_the_visible_date() {
    let page = |visible: &str| {
        format!(
            r#"<head><meta name="date" content="04/02/2018 09:30:00"></head>
            <body><article><h1>Harbour</h1><p class="date">{visible}</p><p>Text.</p></article></body>"#
        )
    };
    let shown_day_first = extract(&page("Erstellt am: 02.04.2018"), None, None);
    assert_eq!(day(&shown_day_first).unwrap(), "2018-04-02 +0000");
    let agreeing = extract(&page("Erstellt am: 04.02.2018"), None, None);
    assert_eq!(day(&agreeing).unwrap(), "2018-02-04 +0000");
    let iso = extract(
        r#"<head><meta name="date" content="2018-02-04T09:30:00Z"></head>
        <body><p class="date">02.04.2018</p></body>"#,
        None,
        None,
    );
    assert_eq!(
        day(&iso).unwrap(),
        "2018-02-04 +0000",
        "ISO is never ambiguous"
    );
}

#[test]
fn a_lone_lead_in_with_a_colon_takes_the_name_from_the_next_element() {
    let html = r#"<html><body><h1>Rivers in spring</h1>
    <p><em>Written by: <a href="https://elsewhere.example/p">Ora Brook</a></em></p>
    <p>The rivers rose early this year, and the towns downstream prepared.</p></body></html>"#;
    let x = extract(html, None, None);
    assert_eq!(x.authors, vec!["Ora Brook"]);
}

#[test]
fn an_aside_inside_the_article_is_its_metadata_not_chrome() {
    let page = |inner: &str| {
        format!(
            r#"<html><body>{inner}<p>Body text of the story, long enough to be the story.</p></body></html>"#
        )
    };
    let meta_box = r#"<p class="authors">Von:<br><i><a href="/autor/x">Uli Weber-Lang</a></i></p>"#;
    let inside = extract(
        &page(&format!(
            "<article><header><h1>Stadtrat tagt</h1></header><aside class=\"meta\">{meta_box}</aside></article>"
        )),
        None,
        None,
    );
    assert_eq!(inside.authors, vec!["Uli Weber-Lang"]);
    let outside = extract(
        &page(&format!(
            "<h1>Stadtrat tagt</h1><aside class=\"meta\">{meta_box}</aside>"
        )),
        None,
        None,
    );
    assert!(outside.authors.is_empty(), "{:?}", outside.authors);
}

#[test]
fn a_short_section_before_the_headline_goes_also_after_the_site_name() {
    let html = r#"<html><head><title>Weather | Storm closes the coastal road for two days | The Courier</title>
    <meta property="og:site_name" content="The Courier"></head><body></body></html>"#;
    let x = extract(html, None, None);
    assert_eq!(
        x.title.as_deref(),
        Some("Storm closes the coastal road for two days")
    );
}

#[test]
fn a_kicker_run_into_the_h1_goes_unless_punctuated_as_part_of_it() {
    let page = |h1: &str, og: &str| {
        format!(
            r#"<html><head><meta property="og:title" content="{og}"></head>
            <body><article><h1>{h1}</h1><p>Text of the story.</p></article></body></html>"#
        )
    };
    let kicker = extract(
        &page(
            "<span>Am Hafen</span> <span>Fähre fährt wieder nach Plan</span>",
            "Fähre fährt wieder nach Plan",
        ),
        None,
        None,
    );
    assert_eq!(
        kicker.title.as_deref(),
        Some("Fähre fährt wieder nach Plan")
    );
    let quoted = extract(
        &page(
            "„Endlich“: Fähre fährt wieder nach Plan",
            "Fähre fährt wieder nach Plan",
        ),
        None,
        None,
    );
    assert_eq!(
        quoted.title.as_deref(),
        Some("„Endlich“: Fähre fährt wieder nach Plan")
    );
}

#[test]
fn a_kicker_label_or_hidden_text_inside_the_h1_is_not_the_title() {
    let html = r#"<body><article><h1><span class="dachzeile">Nach dem Sturm</span>
    <span class="headline">Die Fähre fährt wieder nach Plan</span></h1></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.title.as_deref(), Some("Die Fähre fährt wieder nach Plan"));
    let html = r#"<body><article><h1><div class="topic-label">Jubiläum</div>
    <span class="visually-hidden">Headline:</span> Der Verein wird hundert Jahre alt</h1></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(
        x.title.as_deref(),
        Some("Der Verein wird hundert Jahre alt")
    );
    let html = r#"<body><article><h1>A day in <em>Harbour Town</em>, the old port
    <small class="sub">Why the ferry matters</small></h1></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(
        x.title.as_deref(),
        Some("A day in Harbour Town, the old port"),
        "no space is added before punctuation after an inline element"
    );
}

#[test]
fn a_utc_metadata_date_takes_the_offset_of_the_same_instant_shown_on_the_page() {
    let html = r#"<head><meta property="article:published_time" content="2022-05-04T03:37:37+00:00"></head>
    <body><article><h1>Harbour night shift ends late</h1>
    <time datetime="2022-05-03T23:37:37-04:00">3 May 2022, 11:37 pm</time></article></body>"#;
    assert_eq!(day(&extract(html, None, None)).unwrap(), "2022-05-03 -0400");
    let html = r#"<head><meta property="article:published_time" content="2023-11-09T05:30:59+00:00"></head>
    <body><article><h1>Council votes on the budget</h1>
    <time datetime="2023-11-08 23:30:59">November 8, 2023 at 11:30 p.m.</time></article></body>"#;
    assert_eq!(
        day(&extract(html, None, None)).unwrap(),
        "2023-11-08 -0600",
        "a zone-less local time of the same minute and second"
    );
}

#[test]
fn a_metadata_date_the_page_does_not_show_gives_way_to_the_displayed_date() {
    let page = |extra: &str, shown: &str| {
        format!(
            r#"<head><meta name="date" content="2021-12-20T11:02:44+01:00">{extra}</head>
            <body><article><h1>Riesling from the steep slopes</h1>
            <span class="date">{shown}</span><p>Text.</p></article></body>"#
        )
    };
    let x = extract(&page("", "27.01.2022"), None, None);
    assert_eq!(day(&x).unwrap(), "2022-01-27 +0000");
    let x = extract(&page("", "20.12.2021"), None, None);
    assert_eq!(
        day(&x).unwrap(),
        "2021-12-20 +0100",
        "shown: the metadata stays"
    );
    let modified = r#"<meta property="article:modified_time" content="2022-01-27T09:00:00+01:00">"#;
    let x = extract(&page(modified, "27.01.2022"), None, None);
    assert_eq!(
        x.published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2022-01-27T09:00:00+01:00"),
        "shown as the article's date, the metadata's modification date is it (with its time)"
    );
    let html = r#"<head><meta name="date" content="2021-12-20T11:02:44+01:00"></head><body>
    <article><h1>Riesling from the steep slopes</h1><span class="byline">Updated
    <time class="stamp">Jan 27, 2022</time></span><p>Text.</p></article></body>"#;
    assert_eq!(
        day(&extract(html, None, None)).unwrap(),
        "2021-12-20 +0100",
        "a date the page labels as an update is not the publication date"
    );
    let html = r#"<head><meta name="date" content="2017-11-03"></head><body><article>
    <h1>Gadget review of the week</h1><span class="date">11/03/2017</span></article></body>"#;
    assert_eq!(
        day(&extract(html, None, None)).unwrap(),
        "2017-11-03 +0000",
        "the same date written month-first"
    );
}

#[test]
fn a_container_that_only_says_it_has_a_sidebar_is_not_chrome() {
    let html = r#"<body><section class="gallery--wrapper__with-sidebar"><article>
    <h1>Ten things to pack for the coast</h1>
    <div class="page-meta--author">Posted on September 21, 2020 by Adi Tal</div>
    <p>Text.</p></article></section></body>"#;
    assert_eq!(extract(html, None, None).authors, vec!["Adi Tal"]);
}

#[test]
fn a_byline_after_a_dash_and_a_date_is_found_in_the_text() {
    let html = r#"<body><div class="layoutTwoColumnsRightSidebar"><h1>Lieferketten im Blick behalten</h1>
    <div class="news-single-timedata">05.02.2020 <span>- Redaktion: Eva Roth</span></div>
    <p>Text.</p></div></body>"#;
    assert_eq!(extract(html, None, None).authors, vec!["Eva Roth"]);
}

#[test]
fn a_person_publishing_the_page_is_not_a_site_name_to_strip_from_bylines() {
    let html = r##"<head><script type="application/ld+json">{"@graph":[
    {"@type":"Article","headline":"Can fish feel pain?","publisher":{"@id":"#p"}},
    {"@type":["Person","Organization"],"@id":"#p","name":"Chris Hain"}]}</script></head>
    <body><article><h1>Can fish feel pain?</h1><div class="author-box">Chris Hain</div></article></body>"##;
    assert_eq!(extract(html, None, None).authors, vec!["Chris Hain"]);
}

#[test]
fn an_organisation_in_the_author_metadata_yields_to_a_person_in_a_visible_byline() {
    let page = |byline: &str| {
        format!(
            r#"<head><meta name="author" content="Bund der Stromkunden e.V."></head>
            <body><article><h1>Entlastungen auf einen Blick</h1>{byline}<p>Text.</p></article></body>"#
        )
    };
    let x = extract(&page("<h5><em>Von Leona Holl</em></h5>"), None, None);
    assert_eq!(x.authors, vec!["Leona Holl"]);
    let x = extract(&page(""), None, None);
    assert_eq!(
        x.authors,
        vec!["Bund der Stromkunden e.V"],
        "the organisation when no person is named"
    );
    let html = r#"<head><meta name="author" content="Radio Monde (www.radiomonde.example)"></head>
    <body><h1>Les éléphants de Guinée</h1><p>Auteur : Kossi Tias</p></body>"#;
    assert_eq!(extract(html, None, None).authors, vec!["Kossi Tias"]);
}

#[test]
fn a_menu_link_ending_in_by_is_no_byline_and_a_page_without_h1_is_searched_whole() {
    let filler = "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>".repeat(120);
    let html = format!(
        r#"<body><ul><li><a href="/learn">Learning by Ear</a></li></ul>{filler}
        <h5>Von Leona Holl</h5><p>Text.</p></body>"#
    );
    assert_eq!(extract(&html, None, None).authors, vec!["Leona Holl"]);
}

#[test]
fn a_lone_first_name_is_completed_from_the_visible_text() {
    let html = r#"<head><meta name="author" content="Nils"></head><body><article>
    <h1>Warum wir über Kulturtechniken reden müssen</h1>
    <p><strong>Eine Kolumne von Nils Pickart</strong></p><p>Text.</p></article></body>"#;
    assert_eq!(extract(html, None, None).authors, vec!["Nils Pickart"]);
}

#[test]
fn a_byline_naming_only_the_site_gives_way_to_the_credited_writer() {
    let html = r#"<body><article><h1>Forest rights protect the climate</h1>
    <div class="td-post-author">By The Planet Press -</div>
    <p><em>Written by: <a href="https://news.example/x">Julie Mollin</a></em></p><p>Text.</p>
    </article></body>"#;
    let x = extract(html, Some(&u("https://theplanetpress.example/a")), None);
    assert_eq!(x.authors, vec!["Julie Mollin"]);
}

#[test]
fn a_signed_line_at_the_end_of_a_long_article_is_its_byline_but_prose_is_not() {
    let prose = "<p>Der Wind weht kräftig über das Segelboot und treibt es voran.</p>".repeat(80);
    let html = format!(
        r#"<body><h1>Der Windrebell vom Bodensee</h1>{prose}
        <p>Die Geschichte stammt aus dem Buch <i>Segeln</i> written by <a href="/x">Vino Thom</a>.</p>
        <b>Von:</b><br><br>Götz Warnk</body>"#
    );
    assert_eq!(extract(&html, None, None).authors, vec!["Götz Warnk"]);
}

#[test]
fn a_news_single_container_is_the_article_for_its_displayed_date() {
    let html = r#"<head><meta name="date" content="2020-02-12"></head><body>
    <div class="news-single-item"><h1>Lieferketten im Blick behalten</h1>
    <div class="news-single-timedata">05.02.2020</div><p>Text.</p></div></body>"#;
    assert_eq!(day(&extract(html, None, None)).unwrap(), "2020-02-05 +0000");
}

#[test]
fn a_dateline_opening_a_long_paragraph_is_the_date() {
    let long = "Energieverbraucher erhalten Entlastungen und haben Rechte. ".repeat(10);
    let html = format!(
        r#"<body><div class="itc-headline">Entlastungen auf einen Blick</div>
        <p>(21. November 2022) {long} Stand der Regeln vom 3. Oktober 2022.</p></body>"#
    );
    assert_eq!(
        day(&extract(&html, None, None)).unwrap(),
        "2022-11-21 +0000"
    );
}

#[test]
fn a_name_closing_a_dateline_is_the_byline_but_an_event_listing_is_not() {
    let html = r#"<body><div class="contentBlock"><small>04.02.2022 | 13:10 Uhr | Uta Helk</small>
    <h1>Stellungnahme zum Pilotprojekt</h1><p>Text.</p></div></body>"#;
    assert_eq!(extract(html, None, None).authors, vec!["Uta Helk"]);
    let html = r#"<body><h1>Konzerte im November</h1><p>Text von heute.</p>
    <p>02.11.2022 - Disarstar - Grelle Forelle</p><p>17.11.2022 - Aymz- Grelle Forelle</p></body>"#;
    assert!(extract(html, None, None).authors.is_empty());
}

#[test]
fn invisible_text_in_the_h1_and_h1_labels_are_not_the_title() {
    let html = r#"<body><article><h1 class="title">What we do not want to hear
    <span class="element-invisible"> | FASSETTE.NET</span></h1></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.title.as_deref(), Some("What we do not want to hear"));
    let html = r#"<head><meta property="og:title" content="Erinnerung an die Opfer"></head>
    <body><h1>Sie sind hier:</h1><ol><li>Start</li></ol><p>Text.</p></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.title.as_deref(), Some("Erinnerung an die Opfer"));
}

#[test]
fn a_submitted_line_gives_the_user_handle_when_no_name_is_found() {
    let html = r#"<body><article><h1>FairCoin in der Praxis erklärt</h1>
    <div class="submitted">Gespeichert von <span class="username">rasos</span> am 24. Juli 2017</div>
    <p>Text.</p></article></body>"#;
    assert_eq!(extract(html, None, None).authors, vec!["rasos"]);
}

#[test]
fn a_publisher_in_one_author_key_yields_to_a_person_in_the_next() {
    let html = r#"<head><meta name="author" content="Badische Zeitung">
    <meta property="cXenseParse:author" content="Lisa Petrich"></head>
    <body><li class="teaser"><span class="media-box__autor">Von Clara Müller</span></li></body>"#;
    let x = extract(html, Some(&u("https://www.badische-zeitung.de/a")), None);
    assert_eq!(x.authors, vec!["Lisa Petrich"]);
    // A handle in the later key does not beat the byline.
    let html = r#"<head><meta name="author" content="Interscenario">
    <meta property="article:author" content="gabor_munier"></head>
    <body><article><h1>Hören</h1><span class="author-name">Gàbor Muniér</span></article></body>"#;
    let x = extract(html, Some(&u("https://interscenar.io/a")), None);
    assert_eq!(x.authors, vec!["Gàbor Muniér"]);
}

#[test]
fn a_byline_inside_noscript_is_read() {
    let html = r#"<html><head><title>Post</title></head><body><article><h1>Post</h1>
    <script type="text/template"><span class="byline-author">Posted by Ann Lee</span></script>
    <noscript><span class="byline-author">Posted by Ann Lee, Bo Ek and Cy Young - Chrome Safe Browsing team</span></noscript>
    <p>Body.</p></article></body></html>"#;
    let x = extract(html, None, None);
    assert_eq!(x.authors, vec!["Ann Lee", "Bo Ek", "Cy Young"]);
}

#[test]
fn a_team_credited_alone_is_the_byline() {
    let html = r#"<body><article><h1>News</h1><span class="author">Teufel Blog Redaktion</span></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.authors, vec!["Teufel Blog Redaktion"]);
}

#[test]
fn an_author_link_names_its_author_by_its_schema_name() {
    let html = r#"<body><h1>Waldwege gesperrt</h1><a href="/autoren/kathrin-fuehres-684124">
    <img alt="Kathrin Führes"><span class="teaser-copyright">&copy; Kathrin Führes</span>
    <span itemprop="name"> Kathrin Führes </span></a><p>Text.</p></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.authors, vec!["Kathrin Führes"]);
}

#[test]
fn last_edited_by_a_linked_name() {
    let html = r#"<body><h1>Download</h1><p>Text.</p>
    <p id="pageinfo">BeginnersGuide/Download (last edited 2019-11-10 13:28:18 by <span><a href="/moin/MatsWichmann">MatsWichmann</a></span>)</p></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.authors, vec!["MatsWichmann"]);
}

#[test]
fn an_unsigned_page_is_credited_to_its_publisher() {
    let html = r#"<head><meta property="og:site_name" content="Schnäppchen Blog • Deals jeden Tag"></head>
    <body><h1>Gratis Kekse</h1><p>Text.</p></body>"#;
    let x = extract(html, None, None);
    assert!(x.authors.is_empty());
    assert_eq!(x.publisher.as_deref(), Some("Schnäppchen Blog"));
    // No site name, no publisher.
    let x = extract("<body><h1>Gratis</h1></body>", None, None);
    assert_eq!(x.publisher, None);
}

#[test]
fn a_day_first_date_in_the_url() {
    let x = extract(
        "<body><h1>Meldung</h1><p>Text ohne Datum.</p></body>",
        Some(&u(
            "https://weisser-ring.de/media-news/meldungen/29-10-2021",
        )),
        None,
    );
    assert_eq!(day(&x).unwrap(), "2021-10-29 +0000");
}

#[test]
fn a_metadata_date_shown_only_in_related_articles_yields_to_the_article_date() {
    let html = r#"<head><meta name="date" content="2020-04-30"></head><body><article>
    <h1>Mietenstreik</h1><ul class="Infoline"><li class="Author">Von Moritz Wichmann</li>
    <li class="Date"><time>29.04.2020, 12:01 Uhr</time></li></ul><p>Text.</p></article>
    <aside class="related"><time>30.04.2020</time> Anderer Artikel</aside></body>"#;
    let x = extract(html, None, None);
    assert_eq!(day(&x).unwrap(), "2020-04-29 +0000");
}

#[test]
fn a_date_labelled_as_the_publication_date_wins() {
    let html = r#"<head><meta name="DC.date" content="2021-10-15"></head><body><article>
    <h1>Neue Präsidentin</h1><span class="label">Erschienen am:</span><h2> 13.10.2021 </h2>
    <p>Gewählt.</p></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(day(&x).unwrap(), "2021-10-13 +0000");
    // Other articles' dates in a sidebar are not this article's.
    let html = r#"<head><meta property="article:published_time" content="2022-01-26T09:37:44+00:00"></head>
    <body><article><h1>Heizjacke im Test</h1><p>Text.</p></article>
    <div class="sidebar"><span class="wpp-date">veröffentlicht am Januar 20, 2022</span></div></body>"#;
    let x = extract(html, None, None);
    assert_eq!(day(&x).unwrap(), "2022-01-26 +0000");
    // The same day keeps the metadata's time of day; a book's "Erscheinungsdatum" is not it.
    let html = r#"<head><meta property="article:published_time" content="2017-09-09T10:52:00+02:00"></head>
    <body><article><h1>Rezension</h1><p>Veröffentlicht am 9.9.2017</p>
    <div><b>Erscheinungsdatum:</b> 14.08.2017</div></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(
        x.published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2017-09-09T10:52:00+02:00")
    );
}

#[test]
fn a_publication_date_labelled_in_the_footer_beats_a_date_in_the_text() {
    let html = r#"<body><article><h1>Die Anleitungen der Vorfahren</h1>
    <p>Eine Rezension.</p><p>Die nächste Ausgabe erscheint am 6. November 2023.</p></article>
    <p class="footerFrstLn">Letzte Änderung: 31.10.2023 - 14:49:39<br>Erschienen am: 01.11.2023</p>
    </body>"#;
    let x = extract(html, None, None);
    assert_eq!(day(&x).unwrap(), "2023-11-01 +0000");
    // A date in the article's own markup stays surer than any date labelled in chrome.
    let html = r#"<body><article><h1>Heizjacke im Test</h1><time>26.01.2022</time><p>Text.</p>
    </article><div class="sidebar"><span>veröffentlicht am 20. Januar 2022</span></div></body>"#;
    let x = extract(html, None, None);
    assert_eq!(day(&x).unwrap(), "2022-01-26 +0000");
}

#[test]
fn a_kicker_set_apart_by_a_separator_only_sighted_readers_see_is_not_the_title() {
    let html = r#"<head><meta property="og:title" content="Zoonosen – Wie Umweltzerstörung Epidemien begünstigt">
    </head><body><article><h1><span class="titleheader">Zoonosen</span><span aria-hidden="true"> – </span>
    <span>Wie Umweltzerstörung Epidemien begünstigt</span></h1></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(
        x.title.as_deref(),
        Some("Wie Umweltzerstörung Epidemien begünstigt")
    );
    // A hidden separator with a single word after it is no headline of its own.
    let html = r#"<body><article><h1>Zwischen Berg und See<span aria-hidden="true">|</span>
    <span>Reportage</span></h1></article></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.title.as_deref(), Some("Zwischen Berg und See Reportage"));
}

#[test]
fn a_site_title_h1_is_not_the_headline() {
    // Blog themes print the blog's name in an <h1> on every page; it agrees with the raw
    // <title> only through the part that names the site.
    let html = r#"<head><title>Ski-Fahren auf den Spuren des Trolls – Columbus entdeckt</title>
    <meta property="og:site_name" content="Columbus entdeckt"></head><body>
    <header><h1>Columbus entdeckt</h1></header>
    <div class="content"><h1 class="entry-title">Ski-Fahren auf den Spuren des Trolls</h1></div></body>"#;
    let x = extract(html, None, None);
    assert_eq!(
        x.title.as_deref(),
        Some("Ski-Fahren auf den Spuren des Trolls")
    );
    // A heading classed as the site's title is never the headline.
    let html = r#"<body><h1 class="site-title">Nur mein Standpunkt</h1>
    <p>Gedanken.</p><h1 class="entry-title">Blogposting vom Januar</h1></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.title.as_deref(), Some("Blogposting vom Januar"));
    // Without a class saying so: the heading is wholly a link to the home page.
    let html = r#"<head><title>Alles hat seine Zeit | Marktplatz für ein gutes Leben</title></head>
    <body><h1><a href="http://marktplatz.example.org/">Marktplatz für ein gutes Leben</a></h1>
    <div class="post"><h1 class="entry-title">Alles hat seine Zeit</h1></div></body>"#;
    let x = extract(html, Some(&u("http://marktplatz.example.org/alles/")), None);
    assert_eq!(x.title.as_deref(), Some("Alles hat seine Zeit"));
    // A headline linking to its own article is still the headline.
    let html = r#"<head><title>Rates rise again | Paper</title></head><body>
    <h1><a href="/2021/03/rates-rise-again">Rates rise again</a></h1></body>"#;
    let x = extract(html, None, None);
    assert_eq!(x.title.as_deref(), Some("Rates rise again"));
}

#[test]
fn the_articles_author_page_link_beats_a_site_wide_author_meta() {
    let page = |article: &str| {
        format!(
            r#"<head><meta name="author" content="Matthias Hille - Lukas Balbach"></head><body>
            <div class="post"><h2>Podcasts in Plex einbinden</h2>{article}</div>
            <div class="sidebar"><a href="http://www.matthiashille.com">Matthias Hille</a></div></body>"#
        )
    };
    let html = page(
        r#"<p class="date">Erstellt von <a href="http://blog.example/author/fabian-k/">Fabian Kunz</a>
        am Dienstag 6. Mai 2014</p><p>Text.</p>"#,
    );
    assert_eq!(extract(&html, None, None).authors, vec!["Fabian Kunz"]);
    // A link to someone's profile inside the article's prose is no byline.
    let html = page(
        r#"<p>Die Studenten und <a href="https://other.example/en/profile/francisca-ramirez">Anführer
        Francisca Ramírez</a> wurden verhaftet, während die Regierung weiterhin jede Verantwortung
        für die Gewalt gegen die Demonstrierenden zurückweist und die Proteste als Putsch bezeichnet.</p>"#,
    );
    assert_eq!(
        extract(&html, None, None).authors,
        vec!["Matthias Hille", "Lukas Balbach"]
    );
}

#[test]
fn extract_with_rules_names_the_deciding_rule_without_changing_the_output() {
    let html = r#"<html><head><title>Harbour reopens | Gazette</title>
    <meta property="article:published_time" content="2024-03-02T10:00:00+01:00"></head>
    <body><h1>Harbour reopens</h1><p class="byline">By Ann Lee</p></body></html>"#;
    let url = u("https://gazette.example/news/harbour");
    let (x, rules) = mediawarm_extract::extract_with_rules(html, Some(&url), None);
    assert_eq!(x, extract(html, Some(&url), None), "same output as extract");
    assert_eq!(rules.title, Some("h1_agrees"));
    assert_eq!(rules.published, Some("metadata"));
    assert_eq!(x.authors, vec!["Ann Lee"]);
    assert_eq!(rules.authors, Some("byline_element"));
    let (_, none) = mediawarm_extract::extract_with_rules("<p>x</p>", None, None);
    assert_eq!(none.authors, None);
    assert_eq!(none.published, None);
}

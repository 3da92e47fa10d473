//! The address guard: the scraper connects only to public addresses (docs/ARCHITECTURE.md,
//! "Invariants and why").
//!
//! Three checks share one classification, [`permitted`]:
//! - [`GuardedResolver`] resolves host names and hands the connector only permitted
//!   addresses, so the address checked is the address connected to (no DNS rebinding between
//!   a check and the connection);
//! - [`check_literal_host`] refuses IP-literal hosts, which the connector never resolves,
//!   before each request;
//! - [`redirect_policy`] repeats the literal check and the scheme check on every redirect hop,
//!   keeps every hop on the host of the first request (ignoring `www.`, see
//!   [`same_site`]) and caps the number of hops.
//!
//! Refused: private, loopback, link-local, CGNAT (100.64/10), multicast, unspecified,
//! "this network" (0/8), reserved (240/4), broadcast, IETF protocol assignments
//! (192.0.0/24), benchmarking (198.18/15), documentation (192.0.2/24, 198.51.100/24,
//! 203.0.113/24) and 6to4-relay (192.88.99/24) IPv4 addresses; unique-local, site-local,
//! link-local, multicast, unspecified, loopback, IPv4-compatible, local-use NAT64
//! (`64:ff9b:1::/48`), Teredo (`2001::/32`) and documentation (`2001:db8::/32`,
//! `3fff::/20`) IPv6 addresses; and IPv6 addresses that embed a refused IPv4 address
//! (IPv4-mapped, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`). `allow_loopback` opens
//! 127.0.0.0/8 and `::1` only.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;
use url::{Host, Url};

use super::urls::same_site;

/// A connection the guard refused: the host resolves only to addresses that are not public,
/// or a redirect went somewhere the scraper must not go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused(pub(crate) String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Whether the scraper may connect to `ip`; `allow_loopback` additionally permits
/// 127.0.0.0/8 and `::1` (tests and the demo), never the private ranges.
pub(crate) fn permitted(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_permitted(v4, allow_loopback),
        IpAddr::V6(v6) => v6_permitted(v6, allow_loopback),
    }
}

fn v4_permitted(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let [a, b, c, _] = ip.octets();
    let cgnat = a == 100 && (b & 0xc0) == 64;
    let this_network = a == 0;
    let reserved = a >= 240;
    let protocol_assignments = (a, b, c) == (192, 0, 0);
    let benchmarking = a == 198 && (b & 0xfe) == 18;
    let documentation = matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113));
    let six_to_four_relay = (a, b, c) == (192, 88, 99);
    !(ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || cgnat
        || this_network
        || reserved
        || protocol_assignments
        || benchmarking
        || documentation
        || six_to_four_relay)
}

fn v6_permitted(ip: Ipv6Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_permitted(v4, allow_loopback);
    }
    let s = ip.segments();
    let [_, _, _, _, _, _, lo_hi, lo_lo] = s;
    let embedded_low = Ipv4Addr::new(
        (lo_hi >> 8) as u8,
        lo_hi as u8,
        (lo_lo >> 8) as u8,
        lo_lo as u8,
    );
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_permitted(embedded_low, allow_loopback);
    }
    if s[0] == 0x2002 {
        let six_to_four =
            Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return v4_permitted(six_to_four, allow_loopback);
    }
    let ipv4_compatible_or_unspecified = s[..6] == [0; 6];
    let unique_local = (s[0] & 0xfe00) == 0xfc00;
    let link_local = (s[0] & 0xffc0) == 0xfe80;
    let site_local = (s[0] & 0xffc0) == 0xfec0;
    let local_nat64 = s[..3] == [0x64, 0xff9b, 1];
    let teredo = s[..2] == [0x2001, 0];
    let documentation = s[..2] == [0x2001, 0xdb8] || (s[0] & 0xfff0) == 0x3ff0;
    !(ipv4_compatible_or_unspecified
        || unique_local
        || link_local
        || site_local
        || local_nat64
        || teredo
        || documentation
        || ip.is_multicast())
}

/// Refuses a URL whose host is an IP literal that is not [`permitted`], or that has no host.
/// Host names pass: [`GuardedResolver`] checks what they resolve to.
pub(crate) fn check_literal_host(url: &Url, allow_loopback: bool) -> Result<(), Refused> {
    let ip = match url.host() {
        Some(Host::Domain(_)) => return Ok(()),
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        None => return Err(Refused(format!("{url} has no host"))),
    };
    if permitted(ip, allow_loopback) {
        Ok(())
    } else {
        Err(Refused(format!(
            "refused {ip}: not a public address ({url})"
        )))
    }
}

/// A DNS resolver that drops every address that is not [`permitted`] and fails when none is
/// left, so the connector only ever dials checked addresses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuardedResolver {
    /// Whether 127.0.0.0/8 and `::1` are let through.
    pub(crate) allow_loopback: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|addr| permitted(addr.ip(), allow_loopback))
                .collect();
            if usable.is_empty() {
                let shown = resolved
                    .first()
                    .map_or_else(|| "no address".to_owned(), |a| a.ip().to_string());
                return Err(Refused(format!(
                    "refused {host}: resolves to {shown}, not a public address"
                ))
                .into());
            }
            let addrs: Addrs = Box::new(usable.into_iter());
            Ok(addrs)
        })
    }
}

/// Follows at most `max_redirects` hops, each allowed by [`redirect_verdict`]; host names
/// are checked again by the resolver when connected.
pub(crate) fn redirect_policy(max_redirects: usize, allow_loopback: bool) -> Policy {
    Policy::custom(move |attempt| {
        match redirect_verdict(
            attempt.previous(),
            attempt.url(),
            max_redirects,
            allow_loopback,
        ) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    })
}

/// Whether a redirect to `next`, after the requests to `previous` (the first request's URL
/// first), may be followed: at most `max_redirects` hops, only to http(s), only on the first
/// request's site ([`same_site`]), and only to a host that passes [`check_literal_host`].
pub(crate) fn redirect_verdict(
    previous: &[Url],
    next: &Url,
    max_redirects: usize,
    allow_loopback: bool,
) -> Result<(), Refused> {
    if previous.len() > max_redirects {
        return Err(Refused(format!("more than {max_redirects} redirects")));
    }
    if !matches!(next.scheme(), "http" | "https") {
        return Err(Refused(format!(
            "refused redirect to {next}: only http and https"
        )));
    }
    if let Some(first) = previous.first()
        && !same_site(first, next)
    {
        return Err(Refused(format!(
            "refused redirect from {first} to {next}: another host"
        )));
    }
    check_literal_host(next, allow_loopback)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("valid address")
    }

    #[test]
    fn public_addresses_are_permitted() {
        for a in [
            "1.1.1.1",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "192.0.1.1",
            "198.17.255.255",
            "198.20.0.1",
            "203.0.114.1",
            "2001:4860:4860::8888",
            "2001:1::1",
            "64:ff9b:2::1",
        ] {
            assert!(permitted(ip(a), false), "{a} should be permitted");
        }
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        for a in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "0.0.0.0",
            "0.1.2.3",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:100.64.0.1",
            "::10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "2002:7f00:1::1",
            "192.0.0.1",
            "192.0.0.170",
            "198.18.0.1",
            "198.19.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "192.88.99.1",
            "64:ff9b:1::a00:1",
            "64:ff9b:1:ffff::808:808",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
            "3fff::1",
            "3fff:fff::1",
            "::ffff:198.18.0.1",
        ] {
            assert!(!permitted(ip(a), false), "{a} should be refused");
        }
    }

    #[test]
    fn allow_loopback_opens_loopback_only() {
        for a in ["127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1"] {
            assert!(permitted(ip(a), true), "{a} should be permitted");
        }
        for a in [
            "10.0.0.1",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::",
            "fe80::1",
            "fd00::1",
        ] {
            assert!(!permitted(ip(a), true), "{a} should stay refused");
        }
    }

    #[test]
    fn literal_hosts_are_checked_and_names_are_left_to_the_resolver() {
        let url = |s: &str| Url::parse(s).expect("valid url");
        assert!(check_literal_host(&url("http://127.0.0.1:8080/"), false).is_err());
        assert!(check_literal_host(&url("http://127.0.0.1:8080/"), true).is_ok());
        assert!(check_literal_host(&url("http://[::1]/"), false).is_err());
        assert!(check_literal_host(&url("http://0x7f000001/"), false).is_err());
        assert!(check_literal_host(&url("http://10.1.2.3/"), true).is_err());
        assert!(check_literal_host(&url("http://[::ffff:a00:1]/"), true).is_err());
        assert!(check_literal_host(&url("https://8.8.8.8/"), false).is_ok());
        assert!(check_literal_host(&url("https://localhost/"), false).is_ok());
    }

    /// Each check of the redirect policy is its own: none relies on another to catch its case
    /// (a redirect chain that starts nowhere skips the site check).
    #[test]
    fn the_redirect_policy_checks_scheme_address_site_and_hops_itself() {
        let url = |s: &str| Url::parse(s).expect("valid url");
        let first = [url("https://g.example/feed.xml")];
        let refused = |previous: &[Url], next: &str| {
            redirect_verdict(previous, &url(next), 5, false)
                .expect_err(next)
                .to_string()
        };
        assert!(redirect_verdict(&first, &url("https://www.g.example/rss"), 5, false).is_ok());
        assert!(refused(&first, "ftp://g.example/feed.xml").contains("only http and https"));
        assert!(refused(&[], "file:///etc/passwd").contains("only http and https"));
        assert!(refused(&[], "gopher://g.example/").contains("only http and https"));
        for private in [
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://198.18.0.1/",
            "http://[2001::1]/",
        ] {
            assert!(
                refused(&[], private).contains("not a public address"),
                "{private}"
            );
        }
        assert!(refused(&first, "https://other.example/").contains("another host"));
        let hops: Vec<Url> = (0..6)
            .map(|i| url(&format!("https://g.example/{i}")))
            .collect();
        assert!(refused(&hops, "https://g.example/7").contains("more than 5 redirects"));
    }

    /// The resolver is what the connector dials through: a name that resolves only to
    /// refused addresses fails before any connection, and only permitted addresses are handed
    /// on (resolved from /etc/hosts: no traffic leaves the machine).
    #[tokio::test]
    async fn the_resolver_hands_on_only_permitted_addresses() {
        let name = |s: &str| s.parse::<Name>().expect("valid name");
        let refused = GuardedResolver {
            allow_loopback: false,
        }
        .resolve(name("localhost"))
        .await
        .err()
        .expect("localhost resolves only to loopback");
        assert!(
            refused.to_string().contains("refused localhost"),
            "{refused}"
        );
        let addrs: Vec<SocketAddr> = GuardedResolver {
            allow_loopback: true,
        }
        .resolve(name("localhost"))
        .await
        .expect("loopback allowed")
        .collect();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}

//! Hot keys shared through Redis (`TEST_REDIS_URL`, a random `mwtest:{ulid}:` prefix, its
//! keys removed afterwards): counts from several processes add up in one ranking, and scores
//! decay so that new reads overtake old ones. Skipped (with a message) when the variable is
//! unset; a set but unreachable Redis is a failure.

use std::time::Duration;

use mediawarm_shared::cache::CacheKey;
use mediawarm_shared::hot::HotKeys;

fn key(raw: &str) -> CacheKey {
    CacheKey::parse(raw).unwrap()
}

/// A Redis prefix of this test's own, its keys removed when dropped.
struct Prefix {
    url: String,
    prefix: String,
}

impl Prefix {
    async fn new() -> Option<Self> {
        let Ok(url) = std::env::var("TEST_REDIS_URL") else {
            println!("skipped: TEST_REDIS_URL unset");
            return None;
        };
        let client = redis::Client::open(url.as_str()).expect("TEST_REDIS_URL parses");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("TEST_REDIS_URL is set but Redis is unreachable");
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .expect("TEST_REDIS_URL answers PING");
        Some(Self {
            url,
            prefix: format!("mwtest:{}:", ulid::Ulid::generate()),
        })
    }

    fn tracker(&self, half_life: Duration) -> HotKeys {
        HotKeys::shared(&self.url, &self.prefix, half_life).expect("hot keys")
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        if let Ok(client) = redis::Client::open(self.url.as_str())
            && let Ok(mut conn) = client.get_connection()
        {
            let _: redis::RedisResult<()> = redis::cmd("DEL")
                .arg(format!("{}_hot", self.prefix))
                .arg(format!("{}_hot_decay", self.prefix))
                .query(&mut conn);
        }
    }
}

#[tokio::test]
async fn counts_from_every_process_add_up_in_one_ranking() {
    let Some(prefix) = Prefix::new().await else {
        return;
    };
    let (api_a, api_b) = (
        prefix.tracker(Duration::from_secs(600)),
        prefix.tracker(Duration::from_secs(600)),
    );
    for _ in 0..5 {
        api_a.record(&key("volume:day:shared"));
    }
    for _ in 0..4 {
        api_b.record(&key("volume:day:shared"));
    }
    for _ in 0..7 {
        api_b.record(&key("media:latest:b-only"));
    }
    api_a.record(&key("simplified:score:cold"));
    api_a.flush().await.unwrap();
    api_b.flush().await.unwrap();
    let worker = prefix.tracker(Duration::from_secs(600));
    assert_eq!(
        worker.top(2).await.unwrap(),
        [key("volume:day:shared"), key("media:latest:b-only")],
        "9 reads across two processes beat 7 in one"
    );
    assert_eq!(worker.top(10).await.unwrap().len(), 3);
}

#[tokio::test]
async fn shared_scores_decay_so_new_reads_overtake_old_ones() {
    let Some(prefix) = Prefix::new().await else {
        return;
    };
    let half_life = Duration::from_millis(100);
    let hot = prefix.tracker(half_life);
    for _ in 0..16 {
        hot.record(&key("volume:day:old"));
    }
    hot.flush().await.unwrap();
    // Each flush after a half-life has passed halves every score: 16 → at most 0.5 after
    // five more periods.
    for _ in 0..5 {
        tokio::time::sleep(half_life + Duration::from_millis(20)).await;
        hot.flush().await.unwrap();
    }
    for _ in 0..2 {
        hot.record(&key("volume:day:new"));
    }
    assert_eq!(
        hot.top(1).await.unwrap(),
        [key("volume:day:new")],
        "two fresh reads overtake sixteen old ones"
    );
}

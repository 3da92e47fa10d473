//! Hot keys shared through Redis (`TEST_REDIS_URL`, a random `mwtest:{ulid}:` prefix, its
//! keys removed afterwards): counts from several processes add up in one ranking, and scores
//! decay so that new reads overtake old ones. Ignored unless asked for (`-- --include-ignored`);
//! then an unset or unreachable Redis is a failure.

use std::time::Duration;

use mediawarm_shared::cache::CacheKey;
use mediawarm_shared::hot::HotKeys;
use mediawarm_testkit::services::TestRedis;

fn key(raw: &str) -> CacheKey {
    CacheKey::parse(raw).unwrap()
}

/// A Redis prefix of this test's own, its keys removed when dropped.
struct Prefix(TestRedis);

impl Prefix {
    async fn new() -> Self {
        Self(TestRedis::create("mwtest").await)
    }

    fn tracker(&self, half_life: Duration) -> HotKeys {
        HotKeys::shared(&self.0.url, &self.0.prefix, half_life).expect("hot keys")
    }
}

#[tokio::test]
#[ignore = "needs TEST_REDIS_URL"]
async fn counts_from_every_process_add_up_in_one_ranking() {
    let prefix = Prefix::new().await;
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
#[ignore = "needs TEST_REDIS_URL"]
async fn shared_scores_decay_so_new_reads_overtake_old_ones() {
    let prefix = Prefix::new().await;
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

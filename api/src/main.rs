//! `mediawarm-api`: see [`mediawarm_api::cli`].

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    dotenvy::dotenv().ok();
    mediawarm_shared::telemetry::init()?;
    mediawarm_api::cli::run().await
}

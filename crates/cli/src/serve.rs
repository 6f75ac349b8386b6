//! `cointrail serve`: the screening API (`cointrail-api`) on a TCP listener until Ctrl-C.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use cointrail_api::{ApiConfig, ApiKeys, AppState, RateLimit};

use crate::args::ServeArgs;

/// Environment variable setting the default rate limit per key: `REQUESTS_PER_SECOND[:BURST]`.
const RATE_ENV: &str = "COINTRAIL_RATE_LIMIT";

fn rate_limit() -> anyhow::Result<Option<RateLimit>> {
    let Ok(text) = std::env::var(RATE_ENV) else { return Ok(None) };
    let parse = |value: &str| -> anyhow::Result<f64> {
        let number: f64 = value
            .trim()
            .parse()
            .with_context(|| format!("{RATE_ENV}={text}: expected REQUESTS_PER_SECOND[:BURST]"))?;
        anyhow::ensure!(number.is_finite() && number > 0.0, "{RATE_ENV}={text}: must be positive");
        Ok(number)
    };
    Ok(Some(match text.split_once(':') {
        Some((rate, burst)) => RateLimit { per_second: parse(rate)?, burst: parse(burst)? },
        None => RateLimit::per_second(parse(&text)?),
    }))
}

pub(crate) fn run(args: &ServeArgs, store: &Path) -> anyhow::Result<()> {
    let mut config = ApiConfig::new(store)?;
    config.rules = crate::risk::load_rules(args.rules.as_deref())?;
    if let Some(path) = &args.api_keys {
        config.api_keys = Some(ApiKeys::from_file(path)?);
    }
    if let Some(limit) = rate_limit()? {
        config.rate_limit = limit;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    runtime.block_on(async {
        let state = AppState::new(config)?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        let keys =
            if args.api_keys.is_some() { "API keys required" } else { "loopback clients only" };
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address} ({keys}); Ctrl-C stops")?;
        stdout.flush()?;
        drop(stdout);
        let shutdown = async {
            // Without a signal handler the server runs until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        cointrail_api::serve(listener, state, shutdown).await?;
        anyhow::Ok(())
    })
}

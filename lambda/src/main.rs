//! `sentinel-lambda`: wires the environment, the AWS SDK and the handler
//! ([`sentinel_lambda::app::App`]) to the Lambda runtime. One binary for
//! the Function URL and the EventBridge schedule.

use sentinel_lambda::app::App;
use sentinel_lambda::settings::Settings;
use std::sync::Arc;

#[allow(clippy::disallowed_methods)] // the shell reads the clock; the core takes `now`
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // JSON-less, plain lines: CloudWatch keeps them as they are.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SENTINEL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .without_time()
        .with_target(false)
        .init();
    let settings = Settings::from_env(|k| std::env::var(k).ok(), |p| std::fs::read_to_string(p))?;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let app = Arc::new(App::new(settings, dynamo, now_ms)?);
    lambda_http::run(lambda_http::service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(app.handle(req).await) }
    }))
    .await
}

//! `cargo run --release -p cold-start -- target/release [runs]`
//!
//! For each function binary (and the bare baseline), starts the process
//! with a local stand-in for the Lambda Runtime API and measures the time
//! until the function asks for its first invocation (`GET .../invocation/next`):
//! the init phase Lambda bills on a cold start, minus the sandbox's own
//! start. Prints the median and the spread of `runs` starts, and each
//! binary's size.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const BINARIES: &[&str] = &[
    "cold-start-baseline",
    "api",
    "scheduler",
    "chase-worker",
    "delivery-feedback",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        bail!("usage: cold-start <directory of release binaries> [runs]");
    };
    let runs: usize = args.get(1).map(|r| r.parse()).transpose()?.unwrap_or(20);
    println!(
        "{:<22} {:>10} {:>12} {:>10} {:>10}",
        "binary", "size", "median init", "min", "max"
    );
    for name in BINARIES {
        let path = Path::new(dir).join(name);
        let size = std::fs::metadata(&path)
            .with_context(|| format!("{} (build with cargo build --release)", path.display()))?
            .len();
        let mut samples = Vec::new();
        for _ in 0..runs {
            samples.push(init_time(&path).await?);
        }
        samples.sort();
        let median = samples[samples.len() / 2];
        println!(
            "{:<22} {:>9.1}M {:>10.1}ms {:>8.1}ms {:>8.1}ms",
            name,
            size as f64 / 1_048_576.0,
            ms(median),
            ms(samples[0]),
            ms(samples[samples.len() - 1]),
        );
    }
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Spawn to first `GET /2018-06-01/runtime/invocation/next`.
async fn init_time(binary: &PathBuf) -> anyhow::Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?.to_string();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_LOG_LEVEL", "error")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TABLE_NAME", "bench")
        .env("CHASE_QUEUE_URL", "http://127.0.0.1:9/queue/bench")
        .env("SENDER_DOMAIN", "example.com")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let (mut socket, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .context("the function never polled the runtime API")??;
    let mut buffer = [0u8; 256];
    let read = socket.read(&mut buffer).await?;
    let elapsed = started.elapsed();
    let request = String::from_utf8_lossy(&buffer[..read]);
    if !request.contains("/runtime/invocation/next") {
        bail!("unexpected first request: {request}");
    }
    child.kill().await.ok();
    Ok(elapsed)
}

//! `local serve`: the local runner; `local token`: a signed local token.

use anyhow::{bail, Context};
use local_stack::token::{self, LocalClaims};
use local_stack::LocalStack;
use std::io::Write;
use std::sync::Arc;

const USAGE: &str = "usage:
  local serve [--port 3000] [--prefix chaser]
  local token [--tenant demo] [--sub demo-owner] [--role owner] [--hours 24]
  local check-policies DIR   (DIR: the AWS actions the test suite recorded)

LOCAL_JWT_SECRET overrides the development signing secret.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secret =
        std::env::var("LOCAL_JWT_SECRET").unwrap_or_else(|_| token::DEFAULT_SECRET.to_string());
    match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..], &secret).await,
        Some("token") => {
            let claims = LocalClaims::new(
                &option(&args[1..], "--tenant")?.unwrap_or_else(|| "demo".into()),
                &option(&args[1..], "--sub")?.unwrap_or_else(|| "demo-owner".into()),
                &option(&args[1..], "--role")?.unwrap_or_else(|| "owner".into()),
                option(&args[1..], "--hours")?
                    .map(|h| h.parse())
                    .transpose()?
                    .unwrap_or(24),
            );
            println!("{}", token::issue(&secret, &claims)?);
            Ok(())
        }
        Some("check-policies") => {
            let Some(dir) = args.get(1) else {
                bail!("check-policies needs the directory of recorded actions\n{USAGE}");
            };
            check_policies(std::path::Path::new(dir))
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

fn option(args: &[String], name: &str) -> anyhow::Result<Option<String>> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => match args.get(i + 1) {
            Some(value) => Ok(Some(value.clone())),
            None => bail!("{name} needs a value\n{USAGE}"),
        },
    }
}

async fn serve(args: &[String], secret: &str) -> anyhow::Result<()> {
    runtime::init_tracing();
    let port: u16 = option(args, "--port")?
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(3000);
    let prefix = option(args, "--prefix")?.unwrap_or_else(|| "chaser".into());
    // Bound first, so a port in use stops the runner before it touches anything.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("port {port} is in use (another runner?)"))?;
    let stack = Arc::new(LocalStack::create(&prefix, secret).await.context(
        "creating the local resources; are DynamoDB Local and moto running (see infra/run)?",
    )?);
    let api_url = format!("http://{}", listener.local_addr()?);
    let owner_token = token::issue(secret, &LocalClaims::new("demo", "demo-owner", "owner", 24))?;
    write_stack_env(&api_url, &stack, secret, &owner_token)?;
    println!("API:          {api_url}");
    println!("Owner token:  {owner_token}");
    println!("Try:          curl -H \"Authorization: Bearer $TOKEN\" {api_url}/v1/settings");
    println!("Endpoints:    .local/stack.env   (Ctrl-C stops everything)");
    std::io::stdout().flush()?;
    local_stack::server::serve(stack, listener).await?;
    Ok(())
}

/// Where other tools find the running stack: everything an AWS CLI, SDK or
/// script needs to reach it (`set -a; . .local/stack.env; set +a`).
fn write_stack_env(
    api_url: &str,
    stack: &LocalStack,
    secret: &str,
    owner_token: &str,
) -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.local");
    std::fs::create_dir_all(&root)?;
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let lines = [
        ("API_URL", api_url.to_string()),
        ("OWNER_TOKEN", owner_token.to_string()),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            env("AWS_ENDPOINT_URL_DYNAMODB", ""),
        ),
        ("AWS_ENDPOINT_URL", env("AWS_ENDPOINT_URL", "")),
        ("AWS_REGION", env("AWS_REGION", "us-east-1")),
        ("AWS_DEFAULT_REGION", env("AWS_DEFAULT_REGION", "us-east-1")),
        // The emulators accept any credentials; these are not secrets.
        ("AWS_ACCESS_KEY_ID", env("AWS_ACCESS_KEY_ID", "local")),
        (
            "AWS_SECRET_ACCESS_KEY",
            env("AWS_SECRET_ACCESS_KEY", "local"),
        ),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ("TABLE_NAME", stack.resources.table_name.clone()),
        ("CHASE_QUEUE_URL", stack.resources.chase_queue_url.clone()),
        (
            "CHASE_DLQ_URL",
            stack.resources.dead_letter_queue_url.clone(),
        ),
        ("SENDER_DOMAIN", stack.resources.sender_domain.clone()),
        ("LOCAL_JWT_SECRET", secret.to_string()),
    ];
    let contents: String = lines
        .iter()
        .map(|(name, value)| format!("{name}={value}\n"))
        .collect();
    std::fs::write(root.join("stack.env"), contents)?;
    Ok(())
}

/// Every AWS action each function performed in the test suite is granted by
/// its policy in template.yaml, and nothing granted goes unused.
fn check_policies(dir: &std::path::Path) -> anyhow::Result<()> {
    let template = std::fs::read_to_string(local_stack::template::default_path())?;
    let functions = local_stack::policies::functions(&template)?;
    let used = local_stack::policies::read_recorded(dir)?;
    if used.is_empty() {
        bail!("no recorded actions in {}", dir.display());
    }
    let report = local_stack::policies::PolicyReport::compare(&functions, &used);
    print!("{report}");
    if !report.holds() {
        bail!("template.yaml policies do not match what the functions do");
    }
    println!("policies: every action used is granted, every action granted is used");
    Ok(())
}

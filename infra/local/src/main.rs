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
    let stack = Arc::new(LocalStack::create(&prefix, secret).await.context(
        "creating the local resources; are DynamoDB Local and moto running (see infra/run)?",
    )?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let api_url = format!("http://{}", listener.local_addr()?);
    write_stack_env(&api_url, &stack, secret)?;
    let owner_token = token::issue(secret, &LocalClaims::new("demo", "demo-owner", "owner", 24))?;
    println!("API:          {api_url}");
    println!("Owner token:  {owner_token}");
    println!("Try:          curl -H \"Authorization: Bearer $TOKEN\" {api_url}/v1/settings");
    println!("Endpoints:    .local/stack.env   (Ctrl-C stops everything)");
    std::io::stdout().flush()?;
    local_stack::server::serve(stack, listener).await?;
    Ok(())
}

/// Where other tools find the running stack.
fn write_stack_env(api_url: &str, stack: &LocalStack, secret: &str) -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.local");
    std::fs::create_dir_all(&root)?;
    let endpoint = |name: &str| std::env::var(name).unwrap_or_default();
    let contents = format!(
        "API_URL={api_url}\nAWS_ENDPOINT_URL_DYNAMODB={}\nAWS_ENDPOINT_URL={}\nTABLE_NAME={}\nCHASE_QUEUE_URL={}\nCHASE_DLQ_URL={}\nSENDER_DOMAIN={}\nLOCAL_JWT_SECRET={secret}\n",
        endpoint("AWS_ENDPOINT_URL_DYNAMODB"),
        endpoint("AWS_ENDPOINT_URL"),
        stack.resources.table_name,
        stack.resources.chase_queue_url,
        stack.resources.dead_letter_queue_url,
        stack.resources.sender_domain,
    );
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

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
  local rebuild-reports --tenant ID [--prefix chaser]   (recompute a tenant's report aggregates)
  local demo [--days 7] [--preview-days 14]   (needs API_URL of a running runner)

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
        Some("demo") => demo(&args[1..], &secret).await,
        Some("rebuild-reports") => rebuild_reports(&args[1..], &secret).await,
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
    let api_url = format!("http://{}", listener.local_addr()?);
    let options = local_stack::StackOptions {
        portal_base_url: Some(api_url.clone()),
        table_stream: true,
        ..local_stack::StackOptions::default()
    };
    let stack = Arc::new(
        LocalStack::create_with(&prefix, secret, options)
            .await
            .context(
            "creating the local resources; are DynamoDB Local and moto running (see infra/run)?",
        )?,
    );
    let owner_token = token::issue(secret, &LocalClaims::new("demo", "demo-owner", "owner", 24))?;
    write_stack_env(&api_url, &stack, secret, &owner_token)?;
    println!("API:          {api_url}");
    println!("Owner token:  {owner_token}");
    println!("Try:          set -a; . .local/stack.env; set +a");
    println!("              curl -H \"Authorization: Bearer $OWNER_TOKEN\" $API_URL/v1/settings");
    println!("Reference:    {api_url}/docs   Sent messages: {api_url}/_local/outbox?format=text");
    println!("Endpoints:    .local/stack.env   (Ctrl-C stops everything)");
    std::io::stdout().flush()?;
    // Lambda's DynamoDB event source mapping: the reports stay current.
    let pump = stack.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = pump.drain_streams().await {
                tracing::warn!(error = %e, "stream drain failed; retrying");
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
    local_stack::server::serve(stack, listener).await?;
    Ok(())
}

/// Recomputes one tenant's report aggregates from its items (README "Reports").
async fn rebuild_reports(args: &[String], secret: &str) -> anyhow::Result<()> {
    runtime::init_tracing();
    let Some(tenant) = option(args, "--tenant")? else {
        bail!("rebuild-reports needs --tenant\n{USAGE}");
    };
    let tenant = domain::identity::TenantId::parse(&tenant).context("not a tenant id")?;
    let prefix = option(args, "--prefix")?.unwrap_or_else(|| "chaser".into());
    let stack = LocalStack::create(&prefix, secret).await?;
    let tally = app::usecases::reports::rebuild(&stack.functions.api.context, &tenant)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "rebuilt {} aggregates of tenant {tenant}",
        tally.cells.len()
    );
    Ok(())
}

/// Seeds a new tenant with a realistic book through the running runner's API,
/// shows what will be chased, then plays the next days and shows the outbox.
async fn demo(args: &[String], secret: &str) -> anyhow::Result<()> {
    use local_stack::demo;
    let days: i64 = option(args, "--days")?
        .map(|d| d.parse())
        .transpose()?
        .unwrap_or(7);
    let preview_days: u32 = option(args, "--preview-days")?
        .map(|d| d.parse())
        .transpose()?
        .unwrap_or(14);
    let api_url = std::env::var("API_URL").context(
        "API_URL is not set: start infra/run, then use infra/demo (it reads .local/stack.env)",
    )?;
    let sender_domain = std::env::var("SENDER_DOMAIN").unwrap_or_else(|_| "example.com".into());
    let tenant = format!("demo-{}", ulid::Ulid::new().to_string().to_lowercase());
    let token = token::issue(
        secret,
        &LocalClaims::new(&tenant, "demo-owner", "owner", 24),
    )?;
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    // The book is dated from today; the clock stays there until the ticks move it.
    let today = chrono::Utc::now().date_naive();
    let morning = today
        .and_hms_opt(6, 0, 0)
        .context("06:00 exists")?
        .and_utc();
    http.post(format!("{api_url}/_local/clock"))
        .json(&serde_json::json!({"now": morning}))
        .send()
        .await?
        .error_for_status()?;
    eprintln!("demo: seeding tenant {tenant} through {api_url} ...");
    let mut book = demo::seed(&api_url, &token, &tenant, &sender_domain, today).await?;
    demo::upcoming(&api_url, &token, &mut book, preview_days).await?;
    println!(
        "Tenant {tenant}: {} customers, {} invoices ({} paid, {} on payment plans, {} disputed, {} voided), \
         one cadence every customer is enrolled on; seeded in {:.1} s.",
        book.customers.len(),
        book.invoices,
        book.paid,
        book.plans,
        book.disputed,
        book.voided,
        started.elapsed().as_secs_f64()
    );
    println!("Owner token:  {token}");
    println!("\nWhat will be chased in the next {preview_days} days (clock: {morning}):");
    print!("{}", demo::upcoming_text(&book));
    if days <= 0 {
        return Ok(());
    }
    let until = morning + chrono::Duration::days(days);
    let mut instants: Vec<_> = book
        .upcoming
        .iter()
        .map(|(at, ..)| *at)
        .filter(|at| *at <= until)
        .collect();
    instants.dedup();
    println!(
        "\nPlaying the next {days} days: {} scheduler runs ...",
        instants.len()
    );
    for at in &instants {
        let report: serde_json::Value = http
            .post(format!("{api_url}/_local/tick"))
            .json(&serde_json::json!({"at": at}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        println!("  tick {at}: {} chase messages handled", report["records"]);
    }
    let outbox: serde_json::Value = http
        .get(format!("{api_url}/_local/outbox"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let ours: Vec<&serde_json::Value> = outbox["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| {
            let sent_at =
                serde_json::from_value::<chrono::DateTime<chrono::Utc>>(m["sent_at"].clone());
            let to_demo = m["to"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|to| to.as_str())
                .any(|to| to.ends_with(&book.email_domain) || to.starts_with("+44770090"));
            sent_at.is_ok_and(|at| at >= morning) && to_demo
        })
        .collect();
    println!("\nSent ({} messages, newest first; all of them: curl -s \"{api_url}/_local/outbox?format=text\"):", ours.len());
    for message in ours.iter().take(12) {
        println!(
            "  {}  {:<5} to {}  {}",
            message["sent_at"].as_str().unwrap_or(""),
            message["channel"].as_str().unwrap_or(""),
            message["to"][0].as_str().unwrap_or(""),
            message["subject"]
                .as_str()
                .or(message["text"].as_str())
                .unwrap_or("")
        );
    }
    if let Some((id, name)) = book.customers.first() {
        let customer: serde_json::Value = http
            .get(format!("{api_url}/v1/customers/{id}"))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if let Some(url) = customer["portal_url"].as_str() {
            println!("\nThe portal of {name} (open it in a browser): {url}");
        }
    }
    println!("\nExplore: TOKEN={token}");
    println!("  curl -s -H \"Authorization: Bearer $TOKEN\" \"{api_url}/v1/customers?sort=overdue&limit=5\"");
    println!("  curl -s -H \"Authorization: Bearer $TOKEN\" \"{api_url}/v1/tasks?assignee=all\"");
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

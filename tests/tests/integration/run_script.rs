//! `infra/run` on a port that is already in use stops at once, says which
//! port, and leaves the running instance's files alone.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_second_run_on_a_port_in_use_stops_with_one_line_naming_the_port() {
    let root = repository_root();
    let stack_env = root.join(".local/stack.env");
    let logs = root.join(".local/logs/dynamodb.log");
    let (env_before, logs_before) = (modified(&stack_env), modified(&logs));
    // Stands in for the first instance's DynamoDB Local.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();

    let started = Instant::now();
    let output = Command::new("bash")
        .arg(root.join("infra/run"))
        .current_dir(&root)
        .env("LOCAL_API_PORT", free_port().to_string())
        .env("LOCAL_DYNAMODB_PORT", port.to_string())
        .env("LOCAL_MOTO_PORT", free_port().to_string())
        .output()
        .unwrap();

    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("port {port} is in use")),
        "{stderr}"
    );
    assert!(stderr.contains("LOCAL_DYNAMODB_PORT"), "{stderr}");
    assert_eq!(modified(&stack_env), env_before);
    assert_eq!(modified(&logs), logs_before);
}

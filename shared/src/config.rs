//! Configuration read once at start-up. Missing values fail start-up loudly.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Names of the resources a function talks to. AWS endpoints are not here:
/// the SDK reads `AWS_ENDPOINT_URL_<SERVICE>` itself, which is how the local
/// stack points the same code at DynamoDB Local and moto.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub chase_queue_url: String,
    /// SES configuration set that routes delivery events; optional locally.
    pub ses_configuration_set: Option<String>,
    /// The verified SES domain; chases from tenants without their own
    /// sender address go out as `chasing@<domain>`.
    pub sender_domain: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            chase_queue_url: required("CHASE_QUEUE_URL")?,
            ses_configuration_set: std::env::var("SES_CONFIGURATION_SET")
                .ok()
                .filter(|v| !v.is_empty()),
            sender_domain: std::env::var("SENDER_DOMAIN")
                .ok()
                .filter(|v| !v.is_empty()),
        })
    }
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        Ok(_) => Err(ConfigError::Invalid {
            name,
            reason: "empty".into(),
        }),
        Err(_) => Err(ConfigError::Missing(name)),
    }
}

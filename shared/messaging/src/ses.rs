//! Chase email through SES v2.

use crate::classify::classify;
use app::ports::{Email, Mailer, SendError};
use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use aws_sdk_sesv2::Client;

pub struct SesMailer {
    client: Client,
    /// Routes delivery, bounce and complaint events to delivery feedback.
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(
        sdk: &runtime::SdkConfig,
        options: &runtime::ClientOptions,
        configuration_set: Option<String>,
    ) -> Self {
        // A send that timed out may have gone out: the SDK must not repeat
        // it; the worker decides what an error means (DESIGN §9).
        let mut config = aws_sdk_sesv2::config::Builder::from(sdk)
            .timeout_config(options.send_timeouts())
            .retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled());
        if let Some(url) = &options.ses_endpoint {
            config.set_endpoint_url(Some(url.clone()));
        }
        for interceptor in &options.interceptors {
            config.push_interceptor(interceptor.clone());
        }
        Self {
            client: Client::from_conf(config.build()),
            configuration_set,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

fn content(text: &str) -> Result<Content, SendError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| SendError::Rejected(e.to_string()))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send_email(&self, email: &Email) -> Result<String, SendError> {
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(Body::builder().html(content(&email.html)?).build())
            .build();
        let mut request = self
            .client
            .send_email()
            .from_email_address(&email.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(email.to.clone()))
                    .set_cc_addresses((!email.cc.is_empty()).then(|| email.cc.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone());
        for (name, value) in &email.tags {
            let tag = MessageTag::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| SendError::Rejected(e.to_string()))?;
            request = request.email_tags(tag);
        }
        let output = request.send().await.map_err(classify)?;
        output
            .message_id
            .ok_or_else(|| SendError::Unknown("no_message_id".into()))
    }
}

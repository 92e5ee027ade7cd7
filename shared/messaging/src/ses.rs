//! Chase email through SES v2, sent as raw MIME (HTML body, attachments).

use crate::classify::classify;
use app::ports::{Email, Mailer, SendError};
use async_trait::async_trait;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, MessageTag, RawMessage};
use aws_sdk_sesv2::Client;
use mail_builder::headers::address::Address;
use mail_builder::MessageBuilder;

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
        // it; the worker decides what an error means (docs/architecture.md).
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

/// The email as MIME: text and HTML alternatives and the attachments,
/// built by mail-builder.
/// Sent raw so attachments go in the same call as any other email.
fn mime(email: &Email) -> Result<Vec<u8>, SendError> {
    let from = Address::new_address(email.from.name.as_deref(), email.from.address.as_str());
    let mut message = MessageBuilder::new()
        .from(from)
        .to(email.to.iter().map(String::as_str).collect::<Vec<_>>())
        .subject(email.subject.as_str())
        .html_body(email.html.as_str())
        .text_body(email.text.as_str());
    if !email.cc.is_empty() {
        message = message.cc(email.cc.iter().map(String::as_str).collect::<Vec<_>>());
    }
    for attachment in &email.attachments {
        message = message.attachment(
            attachment.content_type.as_str(),
            attachment.filename.as_str(),
            attachment.bytes.as_slice(),
        );
    }
    message
        .write_to_vec()
        .map_err(|e| SendError::Rejected(format!("the message could not be built: {e}")))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send_email(&self, email: &Email) -> Result<String, SendError> {
        let raw = RawMessage::builder()
            .data(Blob::new(mime(email)?))
            .build()
            .map_err(|e| SendError::Rejected(e.to_string()))?;
        let mut request = self
            .client
            .send_email()
            .from_email_address(&email.from.address)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(email.to.clone()))
                    .set_cc_addresses((!email.cc.is_empty()).then(|| email.cc.clone()))
                    .build(),
            )
            .content(EmailContent::builder().raw(raw).build())
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

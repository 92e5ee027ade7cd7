//! Chase SMS through SNS.

use crate::classify::classify;
use app::ports::{SendError, Sms};
use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

pub struct SnsSms {
    client: Client,
}

impl SnsSms {
    pub fn new(sdk: &runtime::SdkConfig, options: &runtime::ClientOptions) -> Self {
        let mut config = aws_sdk_sns::config::Builder::from(sdk)
            .timeout_config(options.send_timeouts())
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled());
        if let Some(url) = &options.sns_endpoint {
            config.set_endpoint_url(Some(url.clone()));
        }
        for interceptor in &options.interceptors {
            config.push_interceptor(interceptor.clone());
        }
        Self {
            client: Client::from_conf(config.build()),
        }
    }
}

#[async_trait]
impl Sms for SnsSms {
    async fn send_sms(&self, phone: &str, text: &str) -> Result<String, SendError> {
        let sms_type = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|e| SendError::Rejected(e.to_string()))?;
        let output = self
            .client
            .publish()
            .phone_number(phone)
            .message(text)
            .message_attributes("AWS.SNS.SMS.SMSType", sms_type)
            .send()
            .await
            .map_err(classify)?;
        output
            .message_id
            .ok_or_else(|| SendError::Unknown("no_message_id".into()))
    }
}

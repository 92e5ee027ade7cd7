//! The chase queue on SQS: batches of 10, entries SQS refuses retried.

use app::ports::Queue;
use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

/// SQS takes at most 10 messages per `SendMessageBatch`.
const SQS_BATCH: usize = 10;
/// Attempts for the entries of one batch that SQS reports as failed.
const SEND_ATTEMPTS: u32 = 3;

pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(
        sdk: &runtime::SdkConfig,
        options: &runtime::ClientOptions,
        queue_url: String,
    ) -> Self {
        let mut config =
            aws_sdk_sqs::config::Builder::from(sdk).timeout_config(options.storage_timeouts());
        for interceptor in &options.interceptors {
            config.push_interceptor(interceptor.clone());
        }
        Self {
            client: Client::from_conf(config.build()),
            queue_url,
        }
    }

    async fn send_batch(&self, pending: &[(usize, &String)]) -> Result<Vec<usize>, Vec<usize>> {
        let entries: Vec<SendMessageBatchRequestEntry> = pending
            .iter()
            .filter_map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(*body)
                    .build()
                    .ok()
            })
            .collect();
        let all: Vec<usize> = pending.iter().map(|(i, _)| *i).collect();
        match self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => {
                let accepted: Vec<usize> = output
                    .successful()
                    .iter()
                    .filter_map(|ok| ok.id().parse().ok())
                    .collect();
                if output.failed().is_empty() {
                    Ok(accepted)
                } else {
                    Err(accepted)
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, entries = all.len(), "SendMessageBatch failed");
                Err(Vec::new())
            }
        }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn enqueue(&self, bodies: &[String]) -> Vec<usize> {
        let mut accepted = Vec::new();
        let indexed: Vec<(usize, &String)> = bodies.iter().enumerate().collect();
        for chunk in indexed.chunks(SQS_BATCH) {
            let mut pending: Vec<(usize, &String)> = chunk.to_vec();
            for attempt in 1..=SEND_ATTEMPTS {
                match self.send_batch(&pending).await {
                    Ok(sent) => {
                        accepted.extend(sent);
                        break;
                    }
                    Err(sent) => {
                        accepted.extend(sent.iter().copied());
                        pending.retain(|(i, _)| !sent.contains(i));
                        if attempt < SEND_ATTEMPTS {
                            tokio::time::sleep(app::retry::backoff(attempt)).await;
                        }
                    }
                }
            }
        }
        accepted
    }
}

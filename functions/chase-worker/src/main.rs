//! The chase worker: SQS batches of chase messages, each record handled on
//! its own; only failed records are reported back for redelivery.

use app::jobs::chase_worker::ChaseWorker;
use app::metrics::{MeteredMailer, MeteredSms};
use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = runtime::start().await?;
    let metrics = runtime::metrics::emf()?;
    let worker = ChaseWorker {
        context: store::context(&started),
        // Metered: sends and provider errors by channel (app::metrics).
        mailer: Arc::new(MeteredMailer(Arc::new(messaging::ses::SesMailer::new(
            &started.sdk,
            &started.options,
            started.config.ses_configuration_set.clone(),
        )))),
        sms: Arc::new(MeteredSms(Arc::new(messaging::sns::SnsSms::new(
            &started.sdk,
            &started.options,
        )))),
        files: Arc::new(messaging::s3::S3DocumentFiles::new(
            &started.sdk,
            &started.options,
            started.config.documents_bucket()?,
        )),
        printer: Arc::new(app::ports::RecordedForPrint),
        email_pace: started
            .config
            .ses_send_share
            .and_then(|(rate, workers)| app::pace::SendPace::share(rate, workers))
            .map(Arc::new),
    };
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let failed = worker
            .handle(messaging::sqs_events::records(event.payload))
            .await;
        runtime::metrics::flush(metrics);
        Ok::<_, Error>(messaging::sqs_events::batch_response(failed))
    }))
    .await
}

//! Delivery feedback: SES delivery, bounce and complaint events (through
//! SNS) become customer history; hard bounces flag the address.

use app::jobs::delivery_feedback::DeliveryFeedback;
use aws_lambda_events::sns::SnsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = runtime::start().await?;
    let feedback = DeliveryFeedback {
        context: store::context(&started),
    };
    let feedback = &feedback;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SnsEvent>| async move {
        let messages: Vec<String> = event
            .payload
            .records
            .into_iter()
            .map(|record| record.sns.message)
            .collect();
        Ok::<_, Error>(feedback.handle(&messages).await?)
    }))
    .await
}

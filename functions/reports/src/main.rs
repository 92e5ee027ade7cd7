//! Reports: consumes the table's DynamoDB stream and keeps each tenant's
//! report aggregates (README "Reports"); partial batch failures name the
//! first record that failed, so Lambda retries from it in order.

use app::jobs::reports::ReportsConsumer;
use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = runtime::start().await?;
    let consumer = ReportsConsumer {
        context: store::context(&started),
    };
    let consumer = &consumer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let outcome = consumer
            .handle(store::reports::stream_records(event.payload))
            .await;
        let mut response = DynamoDbEventResponse::default();
        if let Some(failed) = outcome.failed {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(failed);
            response.batch_item_failures.push(failure);
        }
        Ok::<_, Error>(response)
    }))
    .await
}

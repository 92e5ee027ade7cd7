//! A bare function: the SDK configuration, one DynamoDB client, and the
//! runtime loop. What every real function's start-up is measured against.

use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let client = &client;
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            let _ = client.config();
            Ok::<_, Error>(serde_json::Value::Null)
        },
    ))
    .await
}

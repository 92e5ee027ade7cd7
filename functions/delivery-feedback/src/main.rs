use aws_lambda_events::sns::SnsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared::bootstrap::App;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = App::from_env().await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SnsEvent>| async move {
        shared::feedback::handle(app, event.payload)
            .await
            .map_err(Error::from)
    }))
    .await
}

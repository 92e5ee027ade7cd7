//! The scheduler: on each EventBridge tick, the due customers' chases go to
//! the chase queue.

use app::jobs::scheduler::Scheduler;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = runtime::start().await?;
    let metrics = runtime::metrics::emf()?;
    let scheduler = Scheduler {
        context: store::context(&started),
        queue: Arc::new(messaging::sqs::SqsChaseQueue::new(
            &started.sdk,
            &started.options,
            started.config.chase_queue_url()?,
        )),
    };
    let scheduler = &scheduler;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent>| async move {
            // The event's time, never the wall clock: a late or retried
            // event evaluates the instant it was scheduled for.
            let at = event
                .payload
                .time
                .ok_or("the scheduled event has no time")?;
            let report = scheduler.tick(at).await;
            runtime::metrics::flush(metrics);
            Ok::<_, Error>(report?)
        },
    ))
    .await
}

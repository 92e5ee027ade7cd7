//! SES events through SNS become history; a hard bounce flags the address.

use aws_lambda_events::sns::SnsEvent;
use integration_tests::TestStack;
use serde_json::{json, Value};

#[tokio::test]
async fn a_hard_bounce_flags_the_contact_once_however_often_it_arrives() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let customer = stack
        .post(
            "/v1/customers",
            &owner,
            &json!({"number": "FB-1", "name": "Globex", "currency": "EUR"}),
        )
        .await;
    let customer_id = customer.id();
    let contact = stack
        .post(
            &format!("/v1/customers/{customer_id}/contacts"),
            &owner,
            &json!({"name": "Pat", "email": "ap@globex.example"}),
        )
        .await;
    assert_eq!(contact.status, 201);

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events/delivery-feedback-bounce.json");
    let mut fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let message = fixture["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .replace("t_demo", &stack.tenant)
        .replace("01J9Z8X7W6V5T4S3R2Q1P0N9M8", &customer_id);
    fixture["Records"][0]["Sns"]["Message"] = json!(message);
    let event: SnsEvent = serde_json::from_value(fixture).unwrap();

    let first = stack.feedback(event.clone()).await.unwrap();
    assert_eq!(first.recorded, 1);
    let again = stack.feedback(event).await.unwrap();
    assert_eq!(again.recorded, 0, "a redelivered event writes nothing");

    let contacts = stack
        .get(&format!("/v1/customers/{customer_id}/contacts"), &owner)
        .await;
    assert_eq!(contacts.body["items"][0]["email_bouncing"], true);
    let history = stack.history(&owner, &customer_id).await;
    assert_eq!(history.iter().filter(|h| h["type"] == "bounce").count(), 1);
    let tasks = stack
        .get(
            &format!("/v1/tasks?assignee=all&customer_id={customer_id}"),
            &owner,
        )
        .await;
    let fixes: Vec<&Value> = tasks.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "fix_contact")
        .collect();
    assert_eq!(fixes.len(), 1, "{:?}", tasks.body);
}

#[tokio::test]
async fn events_without_chase_tags_are_ignored() {
    let stack = TestStack::start().await;
    let event: SnsEvent = serde_json::from_value(json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn",
        "Sns": {"Type": "Notification", "MessageId": "m", "TopicArn": "arn", "Subject": null,
                "Message": "{\"eventType\":\"Delivery\",\"mail\":{\"timestamp\":\"2026-06-09T08:00:01Z\",\"messageId\":\"x\"}}",
                "Timestamp": "2026-06-09T08:00:06.000Z", "SignatureVersion": "1", "Signature": "s", "SigningCertUrl": "u", "UnsubscribeUrl": "u", "MessageAttributes": {}}
    }, {
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn",
        "Sns": {"Type": "Notification", "MessageId": "n", "TopicArn": "arn", "Subject": null, "Message": "not json",
                "Timestamp": "2026-06-09T08:00:06.000Z", "SignatureVersion": "1", "Signature": "s", "SigningCertUrl": "u", "UnsubscribeUrl": "u", "MessageAttributes": {}}
    }]}))
    .unwrap();
    let report = stack.feedback(event).await.unwrap();
    assert_eq!(report.ignored, 2);
}

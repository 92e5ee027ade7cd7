//! template.yaml: every alarm notifies the `AlarmTopicArn` topic, and every
//! dead-letter queue has an alarm (nothing fails silently on AWS).

use serde_norway::Value;

fn template() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

#[test]
fn every_alarm_notifies_the_alarm_topic_and_every_dead_letter_queue_is_watched() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let alarms: Vec<(&str, &Value)> = resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .map(|(name, r)| (name.as_str().unwrap(), &r["Properties"]))
        .collect();
    assert!(alarms.len() >= 12, "{}", alarms.len());
    for (name, alarm) in &alarms {
        let actions = serde_norway::to_string(&alarm["AlarmActions"]).unwrap();
        assert!(
            actions.contains("HasAlarmTopic") && actions.contains("AlarmTopicArn"),
            "{name}: {actions}"
        );
    }
    let queues = resources.iter().filter(|(name, r)| {
        r["Type"].as_str() == Some("AWS::SQS::Queue")
            && name.as_str().unwrap().ends_with("DeadLetterQueue")
    });
    let mut watched = 0;
    for (queue, _) in queues {
        let queue = queue.as_str().unwrap();
        assert!(
            alarms
                .iter()
                .any(|(_, a)| serde_norway::to_string(&a["Dimensions"])
                    .unwrap()
                    .contains(queue)),
            "no alarm watches {queue}"
        );
        watched += 1;
    }
    assert_eq!(
        watched, 5,
        "chase, evaluation, schedule, feedback and reports dead-letter queues"
    );
    for name in [
        "ApiErrorsAlarm",
        "ChaseWorkerErrorsAlarm",
        "ChaseWorkerThrottlesAlarm",
        "ChaseQueueAgeAlarm",
        "EvaluationQueueAgeAlarm",
        "EvaluationDeadLetterAlarm",
        "Api5xxAlarm",
        "SesBounceRateAlarm",
        "SesComplaintRateAlarm",
        "ReportsDeadLetterAlarm",
        "ReportsIteratorAgeAlarm",
    ] {
        assert!(alarms.iter().any(|(n, _)| *n == name), "{name} missing");
    }
}

#[test]
fn the_api_writes_access_logs() {
    let template = template();
    let settings = &template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"];
    let format = settings["Format"].as_str().unwrap();
    let line: serde_json::Value = serde_json::from_str(format).unwrap();
    for field in [
        "requestId",
        "route",
        "status",
        "latencyMs",
        "integrationError",
    ] {
        assert!(line.get(field).is_some(), "{field}");
    }
}

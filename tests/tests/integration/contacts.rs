//! `/v1/customers/{id}/contacts`: roles, flags, primary, history.

use integration_tests::TestStack;
use serde_json::{json, Value};

async fn customer(stack: &TestStack, token: &str) -> String {
    stack
        .create(
            "/v1/customers",
            token,
            &json!({"number": "K-1", "name": "Kappa", "currency": "EUR"}),
        )
        .await
}

#[tokio::test]
async fn contacts_carry_roles_flags_and_one_primary() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let customer_id = customer(&stack, &owner).await;
    let role = stack
        .post(
            "/v1/contact-roles",
            &owner,
            &json!({"name": "Accounts payable"}),
        )
        .await;
    let role_id = role.id();
    let base = format!("/v1/customers/{customer_id}/contacts");

    let ann = stack
        .post(&base, &owner, &json!({"name": "Ann", "email": "ann@kappa.example", "phone": "+33612345678", "sms_enabled": true, "roles": [role_id]}))
        .await;
    assert_eq!(ann.status, 201, "{:?}", ann.body);
    assert_eq!(ann.body["primary"], true, "the first contact is primary");
    assert_eq!(ann.body["receives_chasers"], true);
    assert_eq!(ann.body["receives_escalations"], false);
    let ann_id = ann.id();

    let bob = stack
        .post(
            &base,
            &owner,
            &json!({"name": "Bob", "email": "bob@kappa.example", "cc": true, "primary": true}),
        )
        .await;
    assert_eq!(bob.status, 201, "{:?}", bob.body);
    assert_eq!(bob.body["primary"], true, "setting primary moves it");
    let listed = stack.get(&base, &stack.token("contributor")).await;
    let primaries: Vec<&Value> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["primary"] == true)
        .collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["name"], "Bob");

    let customer_view = stack
        .get(&format!("/v1/customers/{customer_id}"), &owner)
        .await;
    assert_eq!(customer_view.body["primary_contact_id"], bob.body["id"]);

    // A role held by a contact cannot be deleted.
    let in_use = stack
        .delete(&format!("/v1/contact-roles/{role_id}"), &owner)
        .await;
    assert_eq!(in_use.status, 409);
    assert_eq!(in_use.body["error"], "role_in_use");

    let patched = stack
        .patch(
            &format!("{base}/{ann_id}"),
            &owner,
            1,
            &json!({"roles": [], "receives_escalations": true}),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["version"], 2);
    let freed = stack
        .delete(&format!("/v1/contact-roles/{role_id}"), &owner)
        .await;
    assert_eq!(freed.status, 204);

    let bob_id = bob.body["id"].as_str().unwrap();
    let removed = stack.delete(&format!("{base}/{bob_id}"), &owner).await;
    assert_eq!(removed.status, 204);
    let customer_view = stack
        .get(&format!("/v1/customers/{customer_id}"), &owner)
        .await;
    assert_eq!(customer_view.body["primary_contact_id"], Value::Null);
    assert_eq!(
        stack.get(&base, &owner).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn contact_errors_are_clear_and_write_nothing() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let customer_id = customer(&stack, &owner).await;
    let base = format!("/v1/customers/{customer_id}/contacts");

    let unknown_role = stack
        .post(
            &base,
            &owner,
            &json!({"name": "Cy", "roles": ["01J00000000000000000000000"]}),
        )
        .await;
    assert_eq!(unknown_role.status, 422, "{:?}", unknown_role.body);
    assert!(unknown_role.body["fields"]["roles[0]"].is_string());

    let sms_without_phone = stack
        .post(&base, &owner, &json!({"name": "Cy", "sms_enabled": true}))
        .await;
    assert_eq!(sms_without_phone.status, 422);
    assert!(sms_without_phone.body["fields"]["sms_enabled"].is_string());

    let invalid = stack
        .post(
            &base,
            &owner,
            &json!({"email": "nope", "phone": "123", "cc": 1}),
        )
        .await;
    assert_eq!(invalid.status, 422);
    for field in ["name", "email", "phone", "cc"] {
        assert!(invalid.body["fields"][field].is_string(), "{field}");
    }
    assert_eq!(stack.get(&base, &owner).await.body["items"], json!([]));

    let contributor = stack
        .post(&base, &stack.token("contributor"), &json!({"name": "Cy"}))
        .await;
    assert_eq!(contributor.status, 403);

    let ok = stack.post(&base, &owner, &json!({"name": "Cy"})).await;
    let contact_id = ok.body["id"].as_str().unwrap();
    let stale = stack
        .patch(
            &format!("{base}/{contact_id}"),
            &owner,
            7,
            &json!({"name": "Cyd"}),
        )
        .await;
    assert_eq!(stale.status, 409);

    let intruder = stack.token_for("tenant-contacts-intruder", "x", "owner");
    assert_eq!(stack.get(&base, &intruder).await.status, 404);
    assert_eq!(
        stack
            .patch(
                &format!("{base}/{contact_id}"),
                &intruder,
                1,
                &json!({"name": "X"})
            )
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .delete(&format!("{base}/01J00000000000000000000000"), &owner)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn every_customer_change_is_in_its_history() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let customer_id = customer(&stack, &owner).await;
    let base = format!("/v1/customers/{customer_id}/contacts");
    let contact = stack.post(&base, &owner, &json!({"name": "Di"})).await;
    let contact_id = contact.body["id"].as_str().unwrap();
    stack
        .patch(
            &format!("{base}/{contact_id}"),
            &owner,
            1,
            &json!({"name": "Diana"}),
        )
        .await;
    stack
        .patch(
            &format!("/v1/customers/{customer_id}"),
            &owner,
            1,
            &json!({"name": "Kappa SA"}),
        )
        .await;
    stack.delete(&format!("{base}/{contact_id}"), &owner).await;

    let table = stack.table();
    let tenant = domain::identity::TenantId::parse(&stack.tenant).unwrap();
    let stored = store::customer::get(table, &tenant, &customer_id)
        .await
        .unwrap()
        .unwrap();
    let kinds: Vec<String> = stored
        .customer
        .recent_history
        .iter()
        .map(|h| {
            serde_json::to_value(h.kind)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "contact_deleted",
            "customer_updated",
            "contact_updated",
            "contact_created",
            "customer_created"
        ]
    );
}

//! The DynamoDB store against DynamoDB Local passes the same conformance
//! suite as the memory store (`shared/testkit`), so tests written on the
//! memory store say something about production.

use integration_tests::TestStack;

#[tokio::test]
async fn the_dynamodb_store_conforms() {
    let stack = TestStack::start().await;
    let store = store::DynamoStore::new(
        stack.stack.clients.dynamodb.clone(),
        stack.stack.resources.table_name.clone(),
    );
    testkit::conformance::all(&store).await.unwrap();
}

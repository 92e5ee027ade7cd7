//! `infra/demo` (`local demo`): the demo book is created through the API as
//! it stands, so an API change that breaks the demo fails here.

use integration_tests::TestStack;

#[tokio::test]
async fn the_demo_book_seeds_and_has_chases_coming() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let today = "2026-06-15".parse().unwrap();
    stack.set_clock("2026-06-15T06:00:00Z").await;

    let mut book = local_stack::demo::seed(
        &stack.url,
        &owner,
        &stack.tenant,
        &stack.stack.resources.sender_domain,
        today,
    )
    .await
    .unwrap();
    local_stack::demo::upcoming(&stack.url, &owner, &mut book, 14)
        .await
        .unwrap();

    assert_eq!(book.customers.len(), local_stack::demo::CUSTOMERS);
    assert_eq!(book.invoices, local_stack::demo::INVOICES);
    assert!(
        book.paid > 0 && book.plans > 0 && book.disputed > 0 && book.voided > 0,
        "{book:?}"
    );
    assert!(book.upcoming.len() >= 10, "{book:?}");
    let table = local_stack::demo::upcoming_text(&book);
    assert!(table.starts_with("2026-06-15"), "{table}");
    assert!(table.contains("email"), "{table}");
}

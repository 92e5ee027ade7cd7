//! A customer's timeline, newest first.

use super::valid_id;
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::{HistoryFilter, Page, PageRequest};
use domain::history::HistoryItem;
use domain::identity::{Caller, Permission};

/// One page of the customer's timeline narrowed by `filters` (404 for an
/// unknown customer).
pub async fn list(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
    filters: &[HistoryFilter],
    page: PageRequest,
) -> AppResult<Page<HistoryItem>> {
    require(caller, Permission::Read)?;
    if !valid_id(customer_id) {
        return Err(AppError::NotFound);
    }
    let tenant = &caller.tenant;
    let (customer, items) = futures::try_join!(
        context.store.customer(tenant, customer_id),
        context.store.history(tenant, customer_id, filters, page),
    )?;
    if customer.is_none() {
        return Err(AppError::NotFound);
    }
    Ok(items)
}

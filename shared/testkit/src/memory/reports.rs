//! Report aggregates in memory: applied deltas, markers of applied records,
//! and the items a rebuild reads (from the partitions as they are).

use super::MemoryStore;
use app::ports::{ReportStore, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::identity::TenantId;
use domain::reports::{Aggregate, ReportItem, Tally};
use rust_decimal::Decimal;

#[async_trait]
impl ReportStore for MemoryStore {
    async fn apply_report_delta(
        &self,
        tenant: &TenantId,
        record_id: &str,
        delta: &Tally,
        _keep_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut state = self.read("apply_report_delta")?;
        let data = state.tenants.entry(tenant.clone()).or_default();
        if !data.applied_records.insert(record_id.to_string()) {
            return Ok(false);
        }
        data.reports.merge(delta, Decimal::ONE);
        Ok(true)
    }

    async fn report_aggregates(
        &self,
        tenant: &TenantId,
        others: Option<&[Aggregate]>,
    ) -> StoreResult<Tally> {
        let state = self.read("report_aggregates")?;
        let mut tally = state.tenant(tenant).reports.clone();
        if let Some(others) = others {
            tally.cells.retain(|aggregate, _| {
                matches!(aggregate, Aggregate::Open { .. }) || others.contains(aggregate)
            });
        }
        Ok(tally)
    }

    async fn report_items(&self, tenant: &TenantId) -> StoreResult<Vec<ReportItem>> {
        let state = self.read("report_items")?;
        let mut items = Vec::new();
        for partition in state.tenant(tenant).customers.values() {
            let Some(record) = &partition.record else {
                continue;
            };
            items.push(ReportItem::Customer(Box::new(record.customer.clone())));
            for invoice in partition
                .invoices(true)
                .values()
                .chain(partition.invoices(false).values())
            {
                items.push(ReportItem::Invoice(Box::new(invoice.invoice.clone())));
            }
            for task in partition
                .open_tasks
                .values()
                .chain(partition.closed_tasks.values())
            {
                items.push(ReportItem::Task(Box::new(task.clone())));
            }
            for history in partition.history.values() {
                items.push(ReportItem::History(Box::new(history.clone())));
            }
        }
        Ok(items)
    }

    async fn replace_report_aggregates(&self, tenant: &TenantId, tally: &Tally) -> StoreResult<()> {
        let mut state = self.read("replace_report_aggregates")?;
        state.tenants.entry(tenant.clone()).or_default().reports = tally.clone();
        Ok(())
    }
}

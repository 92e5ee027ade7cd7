//! A customer's place in its current cycle, and when a cycle resets.

use super::*;
use crate::balance::{cycle_resets, ChasedItem, ItemId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where a customer is in its current cycle. Persist it with the customer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CycleState {
    /// 0 before the first cycle; the chase id is (tenant, customer, cycle, step).
    pub cycle: u32,
    /// The items in this cycle's balance when last observed. Empty: no cycle
    /// in progress.
    pub members: BTreeSet<ItemId>,
    /// Step positions that ran in this cycle.
    pub ran: BTreeSet<u32>,
    /// Step positions passed over because a later due step ran.
    pub superseded: BTreeSet<u32>,
    pub last_run: Option<u32>,
}

/// What an observation or a change did to the cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CycleChange {
    /// The previous cycle ended.
    pub reset: bool,
    /// A new cycle began, with this number.
    pub started: Option<u32>,
}

impl CycleChange {
    fn merge(self, later: CycleChange) -> Self {
        Self {
            reset: self.reset || later.reset,
            started: later.started.or(self.started),
        }
    }
}

impl CycleState {
    /// Whether `position` may still run in this cycle: not run, not
    /// superseded, and after the last step that ran.
    pub fn is_eligible(&self, position: u32) -> bool {
        !self.ran.contains(&position)
            && !self.superseded.contains(&position)
            && self.last_run.is_none_or(|last| position > last)
    }

    fn clear_steps(&mut self) {
        self.ran.clear();
        self.superseded.clear();
        self.last_run = None;
    }

    /// Brings the state up to date with the current items: a positive balance
    /// with no cycle in progress starts one, and items that joined (a new
    /// invoice, the next installment) join the cycle. As a safety net, if
    /// every remembered member is gone the cycle resets; this is exact only
    /// when every money event went through [`CycleState::record_change`].
    pub fn observe(&mut self, items: &[ChasedItem]) -> CycleChange {
        let current: BTreeSet<ItemId> = items
            .iter()
            .filter(|i| i.remaining > Decimal::ZERO)
            .map(|i| i.id.clone())
            .collect();
        let mut change = CycleChange::default();
        if !self.members.is_empty() && self.members.is_disjoint(&current) {
            self.clear_steps();
            self.members.clear();
            change.reset = true;
        }
        if self.members.is_empty() && !current.is_empty() {
            self.cycle += 1;
            self.clear_steps();
            change.started = Some(self.cycle);
        }
        self.members = current;
        change
    }

    /// Applies the reset rule (docs/chasing.md) to one change of the customer's
    /// invoices (payment, credit, void, dispute, new or edited invoice).
    /// `before` and `after` are the chased items just before and just after
    /// it, both computed for the same tenant-local day.
    pub fn record_change(&mut self, before: &[ChasedItem], after: &[ChasedItem]) -> CycleChange {
        let mut change = self.observe(before);
        if cycle_resets(before, after) {
            self.clear_steps();
            self.members.clear();
            change.reset = true;
        }
        change.merge(self.observe(after))
    }

    /// Records a run the worker carried out (after its claim and send). A run
    /// decided in another cycle than the current one is stale and ignored.
    pub fn record_run(&mut self, run: &Run) {
        if run.cycle != self.cycle {
            return;
        }
        self.ran.insert(run.position);
        self.superseded.extend(run.superseded.iter().copied());
        self.last_run = Some(run.position);
    }

    /// Starts afresh on another cadence (or version): positions of the old
    /// steps mean nothing there, and a new cycle number keeps chase ids unique.
    pub fn restart(&mut self) {
        self.clear_steps();
        if !self.members.is_empty() {
            self.cycle += 1;
        }
    }
}

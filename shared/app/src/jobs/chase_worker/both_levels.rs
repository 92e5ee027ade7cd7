//! Messages of customers chased at invoice level: planned with both levels
//! (`domain::cadence::plan_chasing`), one message carrying every chase of a
//! run on the same channel, audience and contact role (DESIGN §8).
//!
//! The message's lead chase owns the claim's status moves (`sending`,
//! `sent`), exactly as a customer-level chase; the chases it also carries
//! are claimed with it in one transaction and closed with it in one. The
//! send-time re-check plans both levels again as of the message's instant
//! with the customer as it is now, and asks the plan about each chase: the
//! message goes out for the chases still due and says only their invoices.

use super::*;
use crate::chasing::ChasingCadences;
use domain::cadence::{plan_chasing, Chase as PlannedChase, ChaseId, ChasingPlan, Recheck, Stop};

/// What the re-check of a message planned with both levels reads.
pub(super) struct Both {
    stored: StoredCustomer,
    contacts: Vec<Contact>,
    settings: Settings,
    cadences: ChasingCadences,
    /// Both levels planned again as of the message's instant.
    plan: ChasingPlan,
}

/// How a message planned with both levels ended.
enum Ending {
    /// Sent (or its task opened): the due chases ran.
    Ran {
        from: ChaseStatus,
        provider_id: Option<String>,
        /// A letter's document, recorded with the chases.
        letter: Option<Document>,
    },
    /// None of its chases is due any more.
    Suppressed,
    /// It could not be sent, or may have been.
    Failed {
        from: ChaseStatus,
        code: String,
        failure: Failure,
    },
}

impl Both {
    fn due(&self, job: &Job) -> Vec<ChaseId> {
        job.message
            .chases()
            .into_iter()
            .filter(|chase| self.plan.recheck(chase) == Recheck::Due)
            .collect()
    }

    /// The step this message sends: the channel, audience, contact role and
    /// template of the fresh plan's message (or task) holding its first due
    /// chase.
    fn step(&self, due: &[ChaseId]) -> Option<Step> {
        let first = due.first()?;
        if let Some(message) = self
            .plan
            .merged
            .messages
            .iter()
            .find(|m| m.chases().contains(first))
        {
            return Some(Step {
                trigger: domain::cadence::Trigger::PastDueAge,
                days: 0,
                action: message.action,
                template_id: message.template_id.clone(),
                audience: message.audience,
                contact_role: message.contact_role.clone(),
                assignee_id: None,
                attach_invoices: message.attach_invoices,
            });
        }
        self.plan
            .merged
            .tasks
            .iter()
            .find(|task| &task.id() == first)
            .map(|task| match task {
                PlannedChase::Customer(run) => self.customer_step(run.position),
                PlannedChase::Invoice(run) => Some(run.step.clone()),
            })?
    }

    fn customer_step(&self, position: u32) -> Option<Step> {
        self.cadences.customer.as_ref()?.step(position).cloned()
    }

    /// The invoices a message about `due` lists: all chased ones when the
    /// customer-level step is among them (its template speaks of the
    /// account), else exactly the due invoices.
    fn only_invoices<'a>(&self, due: &'a [ChaseId]) -> Option<Vec<&'a str>> {
        let mut invoices = Vec::new();
        for chase in due {
            match chase {
                ChaseId::Customer { .. } => return None,
                ChaseId::Invoice { invoice_id, .. } => invoices.push(invoice_id.as_str()),
            }
        }
        Some(invoices)
    }

    /// The planned chase behind an id, from the fresh plan.
    fn planned(&self, chase: &ChaseId) -> Option<PlannedChase> {
        match chase {
            ChaseId::Customer { cycle, position } => {
                let evaluation = self.plan.customer.as_ref()?;
                match &evaluation.decision {
                    Decision::Run(run) if run.cycle == *cycle && run.position == *position => {
                        Some(PlannedChase::Customer(run.clone()))
                    }
                    _ => None,
                }
            }
            ChaseId::Invoice {
                invoice_id,
                cycle,
                position,
            } => self
                .plan
                .invoices
                .run_for(invoice_id, *cycle, *position)
                .cloned()
                .map(PlannedChase::Invoice),
        }
    }
}

impl ChaseWorker {
    async fn both_levels(&self, job: &Job) -> Result<Option<Both>, RecordError> {
        let store = &self.context.store;
        let Some((stored, contacts)) = store
            .customer_with_contacts(&job.tenant, &job.message.customer_id)
            .await?
        else {
            return Ok(None);
        };
        let settings = self.context.settings(&job.tenant).await?;
        let cadences: ChasingCadences = job
            .lookups
            .cadences
            .of(store.as_ref(), &job.tenant, &stored.customer)
            .await?;
        let stops = crate::chasing::stops(&stored.customer, &settings);
        let plan = plan_chasing(
            &cadences.input(&stored.customer, &stops, settings.time_zone),
            job.message.scheduled_for,
        );
        Ok(Some(Both {
            stored,
            contacts,
            settings,
            cadences,
            plan,
        }))
    }

    /// Send-time re-check, then the message (or task) for the chases still due.
    pub(super) async fn perform_both(&self, job: &Job) -> Result<(), RecordError> {
        let Some(both) = self.both_levels(job).await? else {
            self.hold(job).await?;
            return self.suppress_without_customer(job).await;
        };
        let due = both.due(job);
        let Some(step) = both.step(&due) else {
            self.hold(job).await?;
            return self.end_both(job, Some(both), Ending::Suppressed).await;
        };
        let _ = job.action.set(step.action);
        tracing::info!(
            action = job.channel(),
            chases = due.len(),
            "performing chases"
        );
        let message = Message {
            stored: &both.stored,
            contacts: &both.contacts,
            settings: &both.settings,
            step: &step,
            only_invoices: both.only_invoices(&due),
            tag: chase_tag(&due),
        };
        let delivered = match step.action {
            Action::Email | Action::Sms => self.deliver(job, &message).await?,
            Action::Letter => {
                self.hold(job).await?;
                let ending = match self.post_letter(job, &message).await? {
                    Posted::Letter { reference, letter } => Ending::Ran {
                        from: ChaseStatus::Claimed,
                        provider_id: Some(reference),
                        letter: Some(letter),
                    },
                    Posted::Failed { code, failure } => Ending::Failed {
                        from: ChaseStatus::Claimed,
                        code: code.to_string(),
                        failure,
                    },
                };
                return self.end_both(job, Some(both), ending).await;
            }
            Action::PhoneCall | Action::Escalation => {
                self.hold(job).await?;
                return self
                    .end_both(
                        job,
                        Some(both),
                        Ending::Ran {
                            from: ChaseStatus::Claimed,
                            provider_id: None,
                            letter: None,
                        },
                    )
                    .await;
            }
        };
        match delivered {
            Delivered::Sent(provider_id) => {
                let ran = Ending::Ran {
                    from: ChaseStatus::Sending,
                    provider_id: Some(provider_id.clone()),
                    letter: None,
                };
                let recorded = self.end_both(job, Some(both), ran).await;
                self.sent_or_marked(job, &provider_id, recorded).await
            }
            Delivered::Failed {
                from,
                code,
                failure,
            } => {
                self.end_both(
                    job,
                    Some(both),
                    Ending::Failed {
                        from,
                        code,
                        failure,
                    },
                )
                .await
            }
        }
    }

    /// A redelivery that finds the lead claim `sent`: record the send.
    pub(super) async fn finish_both(
        &self,
        job: &Job,
        provider_id: Option<String>,
    ) -> Result<(), RecordError> {
        self.end_both(
            job,
            None,
            Ending::Ran {
                from: ChaseStatus::Sent,
                provider_id,
                letter: None,
            },
        )
        .await
    }

    /// A redelivery that finds the lead claim `sending`: it may have gone out.
    pub(super) async fn unknown_both(&self, job: &Job) -> Result<(), RecordError> {
        self.end_both(
            job,
            None,
            Ending::Failed {
                from: ChaseStatus::Sending,
                code: OUTCOME_UNKNOWN.to_string(),
                failure: Failure::OutcomeUnknown,
            },
        )
        .await
    }

    /// One transaction: every claim of the message closed, the customer's
    /// state of both levels moved on, a history item per chase (with its
    /// invoice) and any task. Retried on a concurrent change of the customer.
    async fn end_both(
        &self,
        job: &Job,
        read: Option<Both>,
        ending: Ending,
    ) -> Result<(), RecordError> {
        let mut first = read;
        crate::retry::retrying(RECORD_ATTEMPTS, changed, || {
            let read = first.take();
            self.end_both_once(job, read, &ending)
        })
        .await?;
        tracing::info!(action = job.channel(), "chases recorded");
        Ok(())
    }

    async fn end_both_once(
        &self,
        job: &Job,
        read: Option<Both>,
        ending: &Ending,
    ) -> Result<(), RecordError> {
        let both = match read {
            Some(both) => both,
            None => match self.both_levels(job).await? {
                Some(both) => both,
                None => return self.suppress_without_customer(job).await,
            },
        };
        let customer = &both.stored.customer;
        let plan = &both.plan;
        let chases = job.message.chases();
        let due = both.due(job);
        let mut next = customer.clone();
        if let Some(evaluation) = &plan.customer {
            next.cycle = evaluation.state.clone();
        }
        next.invoice_cycles = plan.invoices.state.clone();
        both.cadences.refresh_override_timings(&mut next);
        let mut history = Vec::new();
        let mut extra = Vec::new();
        let mut statuses: Vec<ChaseStatus> = Vec::new();
        let action = job.action.get().copied();
        for chase in &chases {
            let is_due = due.contains(chase);
            let planned = both.planned(chase);
            let status = match (ending, is_due, &planned) {
                (
                    Ending::Ran {
                        provider_id,
                        letter,
                        ..
                    },
                    true,
                    Some(planned),
                ) => {
                    match planned {
                        PlannedChase::Customer(_) => {
                            if let Some(evaluation) = &plan.customer {
                                next.cycle = evaluation.state_after_run();
                            }
                        }
                        PlannedChase::Invoice(run) => next.invoice_cycles.record_run(run),
                    }
                    let mut items = ran_history(job, customer, planned, provider_id.as_deref());
                    if let (Some(letter), Some(item)) = (letter, items.first_mut()) {
                        item.detail["document_id"] = json!(letter.id);
                        item.detail["fulfilment"] = json!("recorded_for_print");
                    }
                    history.extend(items);
                    if let Some(task) = self.task_for(job, &both, planned) {
                        history.push(task.created_history(SYSTEM_ACTOR, job.now));
                        extra.push(Write::InsertTask(Box::new(task)));
                    }
                    ChaseStatus::Done
                }
                (Ending::Failed { .. }, true, planned) => {
                    // Never retried: a person checks first.
                    if let Some(PlannedChase::Invoice(run)) = planned {
                        next.invoice_cycles.record_suppressed(run);
                    }
                    ChaseStatus::Failed
                }
                _ => {
                    let (reason, detail) = match plan.recheck(chase) {
                        Recheck::Held { stop } => {
                            if let (Stop::FrequencyCap { .. }, Some(PlannedChase::Invoice(run))) =
                                (&stop, &planned)
                            {
                                next.invoice_cycles.record_suppressed(run);
                            }
                            (stop.code().to_string(), json!(stop))
                        }
                        Recheck::Due | Recheck::NoLongerDue => ("not_due".to_string(), json!({})),
                    };
                    history.push(suppressed_history(job, customer, chase, &reason, detail));
                    ChaseStatus::Suppressed
                }
            };
            statuses.push(status);
        }
        if let Ending::Failed { code, failure, .. } = ending {
            let (failed, task) = self.failure_history(job, customer, &due, code, *failure);
            history.push(failed);
            history.push(task.created_history(SYSTEM_ACTOR, job.now));
            extra.push(Write::InsertTask(Box::new(task)));
            crate::metrics::chase_failed(job.channel());
        }
        if matches!(ending, Ending::Ran { .. })
            && action.is_some_and(|a| a.is_message())
            && !due.is_empty()
        {
            next.messages_sent.push(job.now);
            let window = Duration::days(i64::from(both.settings.frequency_cap.window_days));
            next.messages_sent.retain(|at| *at > job.now - window);
        }
        // Chases the cap holds back in this run that no message carries:
        // recorded once, never retried in their cycle.
        for capped in &plan.merged.suppressed {
            let id = capped.chase.id();
            if chases.contains(&id) {
                continue;
            }
            if let PlannedChase::Invoice(run) = &capped.chase {
                next.invoice_cycles.record_suppressed(run);
                history.push(suppressed_history(
                    job,
                    customer,
                    &id,
                    capped.stop.code(),
                    json!(capped.stop),
                ));
            }
        }
        // Other chases of this run still to carry out (another message's):
        // the customer stays due, so none is lost; their claims absorb the
        // repeat.
        let others_due = plan
            .chases()
            .iter()
            .any(|c| !chases.contains(c) && plan.recheck(c) == Recheck::Due);
        if !others_due {
            next.last_evaluated_at = Some(job.message.scheduled_for);
            next.next_evaluation_at = plan.next_evaluation_at;
        }
        let lead_to = match ending {
            Ending::Ran { .. } if !due.is_empty() => ChaseStatus::Done,
            Ending::Ran { .. } | Ending::Suppressed => ChaseStatus::Suppressed,
            Ending::Failed { .. } => ChaseStatus::Failed,
        };
        let lead_from = match ending {
            Ending::Ran { from, .. } | Ending::Failed { from, .. } => *from,
            Ending::Suppressed => ChaseStatus::Claimed,
        };
        if matches!(ending, Ending::Suppressed) {
            crate::metrics::chase_suppressed(job.channel());
        }
        let mut writes = crate::writes::customer(next, Some(&both.stored), &history);
        let claims_from = writes.len();
        writes.push(advance(
            job,
            lead_from,
            lead_to,
            match ending {
                Ending::Ran { provider_id, .. } => provider_id.as_deref(),
                _ => None,
            },
        ));
        for (chase, status) in chases.iter().zip(&statuses).skip(1) {
            writes.push(Write::AdvanceChase {
                key: ChaseKey::of(&job.message.customer_id, chase),
                from: ChaseStatus::Claimed,
                to: *status,
                provider_message_id: None,
                at: job.now,
            });
        }
        let claims_end = writes.len();
        writes.extend(extra);
        if let Ending::Ran {
            letter: Some(letter),
            ..
        } = ending
        {
            writes.push(Write::PutDocument(Box::new(letter.clone())));
        }
        match self.context.store.commit(&job.tenant, writes).await {
            Ok(()) => Ok(()),
            // Someone else closed these chases.
            Err(StoreError::ConditionFailed { index })
                if (claims_from..claims_end).contains(&index) =>
            {
                Ok(())
            }
            Err(StoreError::ConditionFailed { index: 0 })
            | Err(StoreError::TransactionConflict) => Err(RecordError::CustomerChanged),
            // A task or history item that already exists: written before.
            Err(StoreError::ConditionFailed { .. }) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// The task a phone call or escalation chase opens, about its invoice
    /// (or every open invoice for the customer's own step).
    fn task_for(&self, job: &Job, both: &Both, planned: &PlannedChase) -> Option<Task> {
        let customer = &both.stored.customer;
        let (action, assignee, invoice_ids) = match planned {
            PlannedChase::Customer(run) => (
                run.action,
                both.customer_step(run.position).and_then(|s| s.assignee_id),
                customer
                    .open_invoices
                    .iter()
                    .map(|i| i.id.clone())
                    .collect(),
            ),
            PlannedChase::Invoice(run) => (
                run.step.action,
                run.step.assignee_id.clone(),
                vec![run.invoice_id.clone()],
            ),
        };
        let (kind, title) = match action {
            Action::PhoneCall => (TaskType::CallReminder, "Call about the overdue balance"),
            Action::Escalation => (TaskType::Escalation, "Escalated account: review"),
            _ => return None,
        };
        Some(
            NewTask {
                customer_id: customer.id.clone(),
                kind,
                title: Some(title.to_string()),
                invoice_ids,
                assignee_id: chase_task_assignee(
                    assignee.as_deref(),
                    customer.ar_specialist_id.as_deref(),
                ),
                due_date: job.message.scheduled_for.date_naive(),
            }
            .open(self.context.ids.new_id(job.now), SYSTEM_ACTOR, job.now),
        )
    }

    fn failure_history(
        &self,
        job: &Job,
        customer: &Customer,
        due: &[ChaseId],
        code: &str,
        failure: Failure,
    ) -> (HistoryItem, Task) {
        let invoice_ids = invoices_of(due);
        let history = HistoryItem::new(
            &customer.id,
            HistoryType::ChaseFailed,
            job.now,
            SYSTEM_ACTOR,
            format!("Chase failed: {}", failure.summary()),
            json!({"reason": code, "chases": due, "scheduled_for": job.message.scheduled_for}),
        )
        .with_invoices(invoice_ids.clone());
        let task = NewTask {
            customer_id: customer.id.clone(),
            kind: TaskType::FixContact,
            title: Some(failure.task_title(code)),
            invoice_ids,
            assignee_id: customer.ar_specialist_id.clone(),
            due_date: job.now.date_naive(),
        }
        .open(self.context.ids.new_id(job.now), SYSTEM_ACTOR, job.now);
        (history, task)
    }
}

fn invoices_of(chases: &[ChaseId]) -> Vec<String> {
    chases
        .iter()
        .filter_map(|chase| match chase {
            ChaseId::Invoice { invoice_id, .. } => Some(invoice_id.clone()),
            ChaseId::Customer { .. } => None,
        })
        .collect()
}

/// The provider tag naming the message's chases.
fn chase_tag(due: &[ChaseId]) -> String {
    due.iter()
        .map(|chase| match chase {
            ChaseId::Customer { cycle, position } => format!("{cycle}-{position}"),
            ChaseId::Invoice {
                cycle, position, ..
            } => format!("i{cycle}-{position}"),
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// The history of one chase carried out: its own item, with the invoice for
/// an invoice-level one, and one per step it superseded.
fn ran_history(
    job: &Job,
    customer: &Customer,
    planned: &PlannedChase,
    provider_id: Option<&str>,
) -> Vec<HistoryItem> {
    let (cadence_id, cadence_version, invoice_id, cycle, position, action, superseded) =
        match planned {
            PlannedChase::Customer(run) => (
                customer.chasing.cadence_id.clone().unwrap_or_default(),
                customer.chasing.cadence_version.unwrap_or_default(),
                None,
                run.cycle,
                run.position,
                run.action,
                run.superseded.clone(),
            ),
            PlannedChase::Invoice(run) => (
                run.cadence_id.clone(),
                run.cadence_version,
                Some(run.invoice_id.clone()),
                run.cycle,
                run.position,
                run.step.action,
                run.superseded.clone(),
            ),
        };
    let (kind, what) = match action {
        Action::Email => (HistoryType::ChaseEmail, "Chase email"),
        Action::Sms => (HistoryType::ChaseSms, "Chase SMS"),
        Action::Letter => (HistoryType::ChaseLetter, "Chase letter"),
        Action::PhoneCall => (HistoryType::TaskCreated, "Call reminder"),
        Action::Escalation => (HistoryType::TaskCreated, "Escalation"),
    };
    let about = match planned {
        PlannedChase::Invoice(run) => format!(" for invoice {}", run.invoice_number),
        PlannedChase::Customer(_) => String::new(),
    };
    let done = if action.is_message() {
        "sent"
    } else {
        "created"
    };
    let mut detail = json!({
        "level": if invoice_id.is_some() { "invoice" } else { "customer" },
        "cadence_id": cadence_id,
        "cadence_version": cadence_version,
        "cycle": cycle,
        "step": position,
        "action": action,
        "scheduled_for": job.message.scheduled_for,
        "provider_message_id": provider_id,
    });
    if let PlannedChase::Invoice(run) = planned {
        detail["invoice_id"] = json!(run.invoice_id);
        detail["invoice_balance"] = json!(run.balance);
        detail["due_date"] = json!(run.due_date);
    }
    let invoice_ids = match &invoice_id {
        Some(id) => vec![id.clone()],
        None => customer
            .open_invoices
            .iter()
            .map(|i| i.id.clone())
            .collect(),
    };
    let mut history = vec![HistoryItem::new(
        &customer.id,
        kind,
        job.now,
        SYSTEM_ACTOR,
        format!("{what} (step {}){about} {done}", position + 1),
        detail,
    )
    .with_invoices(invoice_ids.clone())];
    for earlier in superseded {
        let mut detail = json!({"cadence_id": cadence_id, "cycle": cycle, "step": earlier, "superseded_by": position});
        if let Some(id) = &invoice_id {
            detail["invoice_id"] = json!(id);
        }
        history.push(
            HistoryItem::new(
                &customer.id,
                HistoryType::ChaseSuperseded,
                job.now,
                SYSTEM_ACTOR,
                format!(
                    "Step {} superseded by step {}{about}",
                    earlier + 1,
                    position + 1
                ),
                detail,
            )
            .with_invoices(invoice_id.iter().cloned().collect()),
        );
    }
    history
}

fn suppressed_history(
    job: &Job,
    customer: &Customer,
    chase: &ChaseId,
    reason: &str,
    detail: serde_json::Value,
) -> HistoryItem {
    let (invoice_id, position) = match chase {
        ChaseId::Customer { position, .. } => (None, *position),
        ChaseId::Invoice {
            invoice_id,
            position,
            ..
        } => (Some(invoice_id.clone()), *position),
    };
    HistoryItem::new(
        &customer.id,
        HistoryType::ChaseSuppressed,
        job.now,
        SYSTEM_ACTOR,
        format!("Chase step {} not sent: {reason}", position + 1),
        json!({"reason": reason, "detail": detail, "chase": chase, "invoice_id": invoice_id, "scheduled_for": job.message.scheduled_for}),
    )
    .with_invoices(invoice_id.into_iter().collect())
}

//! The chase queue, the mailer and SMS, recorded in memory. Each can be
//! scripted to fail the way the real service does, so tests reach the
//! worker's and the scheduler's error paths without an emulator.

use app::ports::{Email, Mailer, Queue, SendError, Sms};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock left consistent data.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a body offered to the queue is refused.
type RefusalRule = Box<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Default)]
struct QueueState {
    accepted: Vec<String>,
    refused: Vec<String>,
    calls: usize,
    refuse_next: usize,
    refuse_all: bool,
    rules: Vec<RefusalRule>,
}

/// An SQS queue that keeps what it accepted. Refusals model a partial batch
/// failure: the refused bodies are reported as not sent and stay due for the
/// scheduler's next tick.
#[derive(Clone, Default)]
pub struct MemoryQueue {
    state: Arc<Mutex<QueueState>>,
}

impl std::fmt::Debug for MemoryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("MemoryQueue")
            .field("accepted", &state.accepted)
            .field("refused", &state.refused)
            .field("calls", &state.calls)
            .finish_non_exhaustive()
    }
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every body accepted so far, in order.
    pub fn bodies(&self) -> Vec<String> {
        lock(&self.state).accepted.clone()
    }

    /// The accepted bodies, removed: what a worker would receive.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut lock(&self.state).accepted)
    }

    /// Every body refused so far, in order.
    pub fn refused(&self) -> Vec<String> {
        lock(&self.state).refused.clone()
    }

    /// How many times `enqueue` was called (one per scheduler batch).
    pub fn calls(&self) -> usize {
        lock(&self.state).calls
    }

    /// Refuses the next `count` bodies offered, whichever calls they come in.
    pub fn refuse_next(&self, count: usize) {
        lock(&self.state).refuse_next += count;
    }

    /// Refuses every body while `down` (an outage), accepts again after.
    pub fn set_unavailable(&self, down: bool) {
        lock(&self.state).refuse_all = down;
    }

    /// Refuses, until [`MemoryQueue::clear_refusals`], every body `rule` matches.
    pub fn refuse_matching(&self, rule: impl Fn(&str) -> bool + Send + Sync + 'static) {
        lock(&self.state).rules.push(Box::new(rule));
    }

    pub fn clear_refusals(&self) {
        let mut state = lock(&self.state);
        state.refuse_next = 0;
        state.refuse_all = false;
        state.rules.clear();
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn enqueue(&self, bodies: &[String]) -> Vec<usize> {
        let mut state = lock(&self.state);
        state.calls += 1;
        let mut sent = Vec::new();
        for (index, body) in bodies.iter().enumerate() {
            let refused = if state.refuse_all || state.rules.iter().any(|rule| rule(body)) {
                true
            } else if state.refuse_next > 0 {
                state.refuse_next -= 1;
                true
            } else {
                false
            };
            if refused {
                state.refused.push(body.clone());
            } else {
                state.accepted.push(body.clone());
                sent.push(index);
            }
        }
        sent
    }
}

/// What a scripted call does instead of succeeding.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scripted {
    /// Returns the error; nothing went out.
    Fail(SendError),
    /// The message goes out (it is recorded as sent), then the caller sees
    /// the error: a lost answer, a timeout after the provider accepted it.
    SendThenFail(SendError),
}

/// Shared by the mailer and SMS: what was attempted, what went out, and the
/// scripted outcomes of the next calls.
#[derive(Debug)]
struct Recorder<T> {
    attempts: Vec<T>,
    sent: Vec<(String, T)>,
    script: VecDeque<Scripted>,
    next_id: u64,
    prefix: &'static str,
}

impl<T: Clone> Recorder<T> {
    fn new(prefix: &'static str) -> Self {
        Self {
            attempts: Vec::new(),
            sent: Vec::new(),
            script: VecDeque::new(),
            next_id: 0,
            prefix,
        }
    }

    fn send(&mut self, message: &T) -> Result<String, SendError> {
        self.attempts.push(message.clone());
        let scripted = self.script.pop_front();
        if let Some(Scripted::Fail(error)) = scripted {
            return Err(error);
        }
        self.next_id += 1;
        let id = format!("{}-{:06}", self.prefix, self.next_id);
        self.sent.push((id.clone(), message.clone()));
        match scripted {
            Some(Scripted::SendThenFail(error)) => Err(error),
            _ => Ok(id),
        }
    }
}

/// One SMS that went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub phone: String,
    pub text: String,
}

macro_rules! scripting {
    ($kind:literal) => {
        #[doc = concat!("The next ", $kind, " returns `error` and sends nothing (calls queue up in order).")]
        pub fn fail_next(&self, error: SendError) {
            lock(&self.recorder).script.push_back(Scripted::Fail(error));
        }

        #[doc = concat!("The next ", $kind, " goes out but the caller gets `error`: how an unknown outcome looks from outside.")]
        pub fn send_then_fail_next(&self, error: SendError) {
            lock(&self.recorder)
                .script
                .push_back(Scripted::SendThenFail(error));
        }

        /// Drops the scripted outcomes not used yet.
        pub fn clear_script(&self) {
            lock(&self.recorder).script.clear();
        }

        #[doc = concat!("How many times a ", $kind, " was attempted, failed ones included.")]
        pub fn attempts(&self) -> usize {
            lock(&self.recorder).attempts.len()
        }
    };
}

/// An SES stand-in that records emails and answers `mail-000001`, … as
/// message ids.
#[derive(Debug, Clone)]
pub struct RecordingMailer {
    recorder: Arc<Mutex<Recorder<Email>>>,
}

impl Default for RecordingMailer {
    fn default() -> Self {
        Self {
            recorder: Arc::new(Mutex::new(Recorder::new("mail"))),
        }
    }
}

impl RecordingMailer {
    pub fn new() -> Self {
        Self::default()
    }

    scripting!("email");

    /// The emails that went out (including "sent then failed" ones).
    pub fn sent(&self) -> Vec<Email> {
        lock(&self.recorder)
            .sent
            .iter()
            .map(|(_, email)| email.clone())
            .collect()
    }

    /// The emails that went out with the message id each was given.
    pub fn sent_with_ids(&self) -> Vec<(String, Email)> {
        lock(&self.recorder).sent.clone()
    }
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send_email(&self, email: &Email) -> Result<String, SendError> {
        lock(&self.recorder).send(email)
    }
}

/// An SNS stand-in that records texts and answers `sms-000001`, … as
/// message ids.
#[derive(Debug, Clone)]
pub struct RecordingSms {
    recorder: Arc<Mutex<Recorder<SentSms>>>,
}

impl Default for RecordingSms {
    fn default() -> Self {
        Self {
            recorder: Arc::new(Mutex::new(Recorder::new("sms"))),
        }
    }
}

impl RecordingSms {
    pub fn new() -> Self {
        Self::default()
    }

    scripting!("text");

    /// The texts that went out (including "sent then failed" ones).
    pub fn sent(&self) -> Vec<SentSms> {
        lock(&self.recorder)
            .sent
            .iter()
            .map(|(_, sms)| sms.clone())
            .collect()
    }

    /// The texts that went out with the message id each was given.
    pub fn sent_with_ids(&self) -> Vec<(String, SentSms)> {
        lock(&self.recorder).sent.clone()
    }
}

#[async_trait]
impl Sms for RecordingSms {
    async fn send_sms(&self, phone: &str, text: &str) -> Result<String, SendError> {
        lock(&self.recorder).send(&SentSms {
            phone: phone.to_string(),
            text: text.to_string(),
        })
    }
}

/// A scheduler wired to two memory queues, run the way the evaluation
/// queue's event source mapping would: the tick, then every unit it leads
/// to, one invocation each, until none is left; what the units did.
pub async fn tick_through(
    scheduler: &app::jobs::scheduler::Scheduler,
    evaluations: &MemoryQueue,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<app::jobs::scheduler::SchedulerReport, app::jobs::scheduler::SchedulerError> {
    scheduler.tick(at).await?;
    let mut report = app::jobs::scheduler::SchedulerReport::default();
    loop {
        let units = evaluations.take();
        if units.is_empty() {
            return Ok(report);
        }
        for (i, unit) in units.into_iter().enumerate() {
            let record = app::messages::QueuedRecord {
                message_id: Some(format!("unit-{i}")),
                body: Some(unit),
                receive_count: 1,
            };
            let (done, failed) = scheduler.handle(vec![record]).await;
            if !failed.is_empty() {
                return Err(app::jobs::scheduler::SchedulerError::NotEnqueued(
                    failed.len(),
                ));
            }
            report.add(&done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(subject: &str) -> Email {
        Email {
            from: app::ports::Sender {
                name: None,
                address: "ar@example.com".into(),
            },
            to: vec!["ap@example.com".into()],
            cc: Vec::new(),
            subject: subject.into(),
            html: "<p>hi</p>".into(),
            text: "hi".into(),
            attachments: Vec::new(),
            tags: vec![("chase".into(), "c1".into())],
        }
    }

    #[tokio::test]
    async fn the_queue_accepts_and_refuses_as_told() {
        let queue = MemoryQueue::new();
        let bodies: Vec<String> = (0..4).map(|i| format!("b{i}")).collect();
        queue.refuse_next(1);
        assert_eq!(queue.enqueue(&bodies).await, vec![1, 2, 3]);
        queue.refuse_matching(|body| body == "b2");
        assert_eq!(queue.enqueue(&bodies).await, vec![0, 1, 3]);
        queue.clear_refusals();
        queue.set_unavailable(true);
        assert!(queue.enqueue(&bodies).await.is_empty());
        queue.set_unavailable(false);
        assert_eq!(queue.enqueue(&bodies[..1]).await, vec![0]);
        assert_eq!(queue.calls(), 4);
        assert_eq!(queue.refused().len(), 6);
        assert_eq!(queue.bodies(), ["b1", "b2", "b3", "b0", "b1", "b3", "b0"]);
        assert_eq!(queue.take().len(), 7);
        assert!(queue.bodies().is_empty());
    }

    #[tokio::test]
    async fn the_mailer_follows_its_script_then_succeeds() {
        let mailer = RecordingMailer::new();
        mailer.fail_next(SendError::NotSent("throttled".into()));
        mailer.send_then_fail_next(SendError::Unknown("timeout".into()));
        mailer.fail_next(SendError::Rejected("bad address".into()));

        let outcomes = [
            mailer.send_email(&email("1")).await,
            mailer.send_email(&email("2")).await,
            mailer.send_email(&email("3")).await,
            mailer.send_email(&email("4")).await,
        ];
        assert_eq!(
            outcomes,
            [
                Err(SendError::NotSent("throttled".into())),
                Err(SendError::Unknown("timeout".into())),
                Err(SendError::Rejected("bad address".into())),
                Ok("mail-000002".into()),
            ]
        );
        assert_eq!(mailer.attempts(), 4);
        let subjects: Vec<String> = mailer.sent().into_iter().map(|e| e.subject).collect();
        assert_eq!(subjects, ["2", "4"], "an unknown outcome did go out");
        assert_eq!(mailer.sent_with_ids()[0].0, "mail-000001");
    }

    #[tokio::test]
    async fn sms_records_texts_and_can_be_cleared_of_its_script() {
        let sms = RecordingSms::new();
        sms.fail_next(SendError::NotSent("quota".into()));
        sms.clear_script();
        assert_eq!(
            sms.send_sms("+447700900000", "pay").await,
            Ok("sms-000001".into())
        );
        sms.send_then_fail_next(SendError::Unknown("reset".into()));
        assert!(sms.send_sms("+447700900001", "now").await.is_err());
        assert_eq!(
            sms.sent(),
            [
                SentSms {
                    phone: "+447700900000".into(),
                    text: "pay".into()
                },
                SentSms {
                    phone: "+447700900001".into(),
                    text: "now".into()
                },
            ]
        );
        assert_eq!(sms.sent_with_ids()[1].0, "sms-000002");
        assert_eq!(sms.attempts(), 2);
    }
}

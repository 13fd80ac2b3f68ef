//! Deadlines, not retry counts (issue 17, item 6).
//!
//! A Lambda function has a hard deadline (its timeout; API Gateway's 29 s in front of the
//! HTTP ones). Counting retries does not keep within it: 3 KMS tries × a 15 s operation
//! timeout, or 4 transaction tries each with the SDK's own retries, add up past it, and
//! the caller then gets a bare gateway timeout instead of a 503 problem+json. So every
//! retry loop of this crate asks the time left before it waits or tries again, bounds each
//! call by it ([`attempt`]), and gives up with `Unavailable` (503) while there is still
//! time for the use case to undo what it started and answer ([`ATTEMPT_MARGIN`]). The
//! request's [`scope`] is the backstop: it answers 503 itself [`ANSWER_MARGIN`] before the
//! deadline whatever is still running.
//!
//! Where the deadline comes from, first match wins:
//! 1. the task-local one of [`scope`] (an HTTP request or a job run wrapped by its
//!    composition root: the Lambda context's deadline, or the configured budget of a
//!    request locally);
//! 2. the process-wide one of [`set_invocation_deadline`]: a Lambda execution environment
//!    serves one invocation at a time, and the KMS signer signs on a blocking thread where
//!    no task-local is visible;
//! 3. otherwise [`budget`] from the start of the loop (`ORGCERT_AWS_BUDGET_MS`, default
//!    20 s): a tool or a test without a deadline of its own.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use orgcert_core::DomainError;
use rand::Rng;

/// Time [`scope`] keeps back from the deadline to write and send the 503 answer.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(1_000);

/// Time a single AWS call ([`attempt`]) keeps back: a little more than [`ANSWER_MARGIN`],
/// so that the call's own `Unavailable` reaches the use case (and its log) before
/// [`scope`] cuts the request off.
const CALL_MARGIN: Duration = Duration::from_millis(1_250);

/// Time kept back by the steps that are followed by an undo (the KMS signature of an
/// issuance: its claim is released after a failure) and by every decision to retry: a
/// use case that gets its `Unavailable` then still has time to undo what it started
/// (release the claim, remove a PKCS#12 object) before the request is cut off.
pub const ATTEMPT_MARGIN: Duration = Duration::from_millis(2_000);

/// Default budget of a loop without a deadline (`ORGCERT_AWS_BUDGET_MS` overrides it).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(20);

/// First wait of [`Backoff`]; each further one doubles, capped by [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Longest single wait of [`Backoff`].
const MAX_BACKOFF: Duration = Duration::from_secs(2);

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The deadline of the current Lambda invocation (see the module documentation, 2.).
static INVOCATION: Mutex<Option<Instant>> = Mutex::new(None);

/// The configured budget of a loop without a deadline (`ORGCERT_AWS_BUDGET_MS`).
pub fn budget() -> Duration {
    std::env::var("ORGCERT_AWS_BUDGET_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(DEFAULT_BUDGET, Duration::from_millis)
}

/// Converts a wall-clock deadline in epoch milliseconds (the Lambda context's
/// `deadline`, from the `Lambda-Runtime-Deadline-Ms` header) into an [`Instant`].
pub fn instant_from_epoch_ms(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// The Lambda context's deadline as an [`Instant`], or `None` when it is not a deadline
/// ahead of now: `0` (no context), or what an emulator sends instead (`cargo lambda
/// watch` sends its timeout, `600000`, or a time already past). The caller then uses
/// [`budget`]. Lambda itself stops an invocation at its deadline, so one being served
/// always has its deadline ahead, at most 15 minutes (the longest timeout).
pub fn from_lambda_deadline_ms(deadline_ms: u64) -> Option<Instant> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let plausible = deadline_ms > now_ms && deadline_ms <= now_ms + 16 * 60_000;
    plausible.then(|| instant_from_epoch_ms(deadline_ms))
}

/// Sets (or clears) the deadline of the current Lambda invocation for code that runs
/// outside the request's task (the KMS signer on a blocking thread).
pub fn set_invocation_deadline(deadline: Option<Instant>) {
    if let Ok(mut d) = INVOCATION.lock() {
        *d = deadline;
    }
}

/// The deadline in force, if any (task-local first, then the invocation's).
pub fn current() -> Option<Instant> {
    DEADLINE
        .try_with(|d| *d)
        .ok()
        .or_else(|| INVOCATION.lock().ok().and_then(|d| *d))
}

/// The deadline in force, else `budget()` from now: what a loop starting now works to.
pub fn effective() -> Instant {
    current().unwrap_or_else(|| Instant::now() + budget())
}

/// Time left before `deadline` for one AWS call (less the call margin).
pub fn remaining(deadline: Instant) -> Duration {
    left_before(deadline, CALL_MARGIN)
}

fn left_before(deadline: Instant, margin: Duration) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .saturating_sub(margin)
}

/// Runs `fut` with `deadline` as the task-local deadline, and answers `Unavailable`
/// instead of its result when it is not done [`ANSWER_MARGIN`] before the deadline.
///
/// Dropping `fut` there is what the Lambda timeout would do a moment later anyway; the
/// store's transactions are atomic and carry a client request token, so an abandoned
/// write either happened whole or not at all.
///
/// # Errors
/// `Unavailable` when the deadline (less the margin) passes first.
pub async fn scope<T>(deadline: Instant, fut: impl Future<Output = T>) -> Result<T, DomainError> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .saturating_sub(ANSWER_MARGIN);
    DEADLINE
        .scope(deadline, async move {
            tokio::time::timeout(left, fut).await.map_err(|_| {
                DomainError::Unavailable(format!(
                    "the request's deadline came before AWS answered ({} ms budget)",
                    left.as_millis()
                ))
            })
        })
        .await
}

/// One AWS call, bounded by the time left before `deadline`.
///
/// # Errors
/// `Unavailable` naming `what` when no time is left or the call outlasts it.
pub async fn attempt<T>(
    what: &str,
    deadline: Instant,
    fut: impl Future<Output = T>,
) -> Result<T, DomainError> {
    attempt_leaving(what, deadline, CALL_MARGIN, fut).await
}

/// As [`attempt`], keeping `margin` back (at least the call margin): for a step followed
/// by an undo, [`ATTEMPT_MARGIN`].
///
/// # Errors
/// As [`attempt`].
pub async fn attempt_leaving<T>(
    what: &str,
    deadline: Instant,
    margin: Duration,
    fut: impl Future<Output = T>,
) -> Result<T, DomainError> {
    let left = left_before(deadline, margin.max(CALL_MARGIN));
    if left.is_zero() {
        return Err(out_of_time(what));
    }
    tokio::time::timeout(left, fut)
        .await
        .map_err(|_| out_of_time(what))
}

/// The error of a loop whose deadline came first.
pub fn out_of_time(what: &str) -> DomainError {
    DomainError::Unavailable(format!(
        "{what}: no answer within the deadline; gave up in time to answer"
    ))
}

/// Exponential backoff with full jitter (a random wait between zero and the doubling
/// bound: retries of many callers spread out instead of arriving together), bounded by a
/// deadline.
#[derive(Debug)]
pub struct Backoff {
    deadline: Instant,
    bound: Duration,
}

impl Backoff {
    /// A backoff that never waits past `deadline` (less [`ATTEMPT_MARGIN`]).
    pub fn until(deadline: Instant) -> Self {
        Self {
            deadline,
            bound: FIRST_BACKOFF,
        }
    }

    /// The next wait, or `None` when waiting it would leave no time for another attempt
    /// (at least as long as the wait itself) before the deadline.
    pub fn next_wait(&mut self) -> Option<Duration> {
        let bound_ms = u64::try_from(self.bound.as_millis()).unwrap_or(u64::MAX);
        let wait = Duration::from_millis(rand::thread_rng().gen_range(bound_ms / 2..=bound_ms));
        self.bound = (self.bound * 2).min(MAX_BACKOFF);
        (left_before(self.deadline, ATTEMPT_MARGIN) > wait * 2).then_some(wait)
    }

    /// Sleeps the next wait; `false` (without sleeping) when the deadline is too close.
    pub async fn wait(&mut self) -> bool {
        match self.next_wait() {
            Some(w) => {
                tokio::time::sleep(w).await;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scope_answers_unavailable_before_the_deadline() {
        let deadline = Instant::now() + ANSWER_MARGIN + Duration::from_millis(200);
        let res = scope(deadline, std::future::pending::<()>()).await;
        assert!(matches!(res, Err(DomainError::Unavailable(_))), "{res:?}");
    }

    #[tokio::test]
    async fn the_scope_deadline_is_visible_inside_only() {
        let deadline = Instant::now() + Duration::from_secs(60);
        assert_eq!(
            scope(deadline, async { current() }).await.unwrap(),
            Some(deadline)
        );
        assert_eq!(current(), None);
    }

    #[test]
    fn backoff_stops_when_the_deadline_is_near() {
        let mut far = Backoff::until(Instant::now() + Duration::from_secs(60));
        let waits: Vec<_> = (0..8).map(|_| far.next_wait().unwrap()).collect();
        assert!(waits.iter().all(|w| *w <= MAX_BACKOFF));
        assert!(waits[7] >= MAX_BACKOFF / 2, "{waits:?}");
        let mut near = Backoff::until(Instant::now() + ATTEMPT_MARGIN);
        assert_eq!(near.next_wait(), None);
    }

    #[test]
    fn an_epoch_deadline_becomes_an_instant() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let d = instant_from_epoch_ms(now_ms + 10_000);
        let left = d.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_secs(10) && !left.is_zero());
        assert!(instant_from_epoch_ms(0) <= Instant::now());
        assert!(from_lambda_deadline_ms(now_ms + 10_000).is_some());
        assert_eq!(from_lambda_deadline_ms(0), None);
        assert_eq!(
            from_lambda_deadline_ms(600_000),
            None,
            "cargo lambda's timeout"
        );
    }
}

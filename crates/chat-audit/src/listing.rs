//! Walking the listing: the main pass over ListRooms, then catch-up passes from the head
//! for rooms changed or created since the sweep started, each room checked once.
//!
//! ListRooms is ordered by update time, newest first. A room changed while the sweep runs
//! moves to the head, behind the cursor, so the main pass alone can miss it (and a sweep
//! would report `complete` without it). After the main pass, a catch-up pass lists from
//! the head again until it reaches rooms last updated before the sweep started (less a
//! margin for clock skew), checking every room the sweep has not seen; passes repeat until
//! one finds nothing new, so a complete sweep covers every room that existed at its end.
//! A room checked once and changed afterwards is not checked again: its change is the next
//! sweep's. The seen set ([`crate::seen`]) is saved with every page.
//!
//! A rejected page token (expired on a later page, or between invocations) does not
//! restart the sweep: the pass lists from the head again and skips the rooms it has seen,
//! so nothing is counted twice and nothing done is lost. A listing that does not end (a
//! token met twice in one pass, empty pages that keep a token, rooms listed again and
//! again) stops the invocation with an error instead of looping.

use crate::api::{ApiError, Group};
use crate::checkpoint::CheckpointStore;
use crate::report::Report;
use crate::seen::room_key;
use crate::sweep::{AuditError, Auditor, Run};
use crate::{Summary, SweepStatus};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Rooms last updated this long before the sweep started still count as changed during it
/// in a catch-up pass (the service's clock and ours may differ).
pub const CLOCK_SKEW_MARGIN_SECS: i64 = 300;

/// Catch-up passes a sweep makes at most: each exists only because the one before found
/// rooms changed or created meanwhile; a fleet that changes faster is caught by the next
/// sweep.
pub const MAX_CATCH_UP_PASSES: u32 = 10;

/// Page tokens one invocation may see rejected before it stops with an error.
pub const MAX_TOKEN_RESTARTS: u32 = 3;

/// Consecutive empty pages with a next token that make a listing "endless".
const MAX_EMPTY_PAGES: u32 = 5;

/// What one pass has met, to tell a listing that does not end.
#[derive(Debug, Default)]
struct PassGuard {
    tokens: HashSet<String>,
    rooms: HashSet<u64>,
    repeats: u64,
    empty: u32,
}

impl PassGuard {
    /// Checks a page before its rooms are used: `Err` with why the listing does not end.
    fn page(&mut self, token: Option<&str>, rooms: &[u64], page_size: i32) -> Result<(), String> {
        if let Some(t) = token
            && !self.tokens.insert(t.to_string())
        {
            return Err(
                "ListRooms returned a page token it had already returned in this pass".into(),
            );
        }
        if rooms.is_empty() && token.is_some() {
            self.empty += 1;
            if self.empty >= MAX_EMPTY_PAGES {
                return Err(format!(
                    "ListRooms returned {MAX_EMPTY_PAGES} empty pages in a row, each with a next token"
                ));
            }
        } else {
            self.empty = 0;
        }
        for r in rooms {
            if !self.rooms.insert(*r) {
                self.repeats += 1;
            }
        }
        // A room changed mid-pass may be listed twice by a service with offset tokens;
        // more than two pages' worth is a loop.
        if self.repeats > 2 * page_size.max(1) as u64 {
            return Err(format!(
                "ListRooms listed {} rooms again within one pass",
                self.repeats
            ));
        }
        Ok(())
    }
}

/// Where the checkpoint stood when a page began: a page that fails is redone from here.
struct PageStart {
    token: Option<String>,
    pass: u32,
    found: u64,
    pass_pages: u64,
}

impl PageStart {
    fn of<S, R>(run: &Run<'_, S, R>) -> Self {
        Self {
            token: run.checkpoint.next_token.clone(),
            pass: run.checkpoint.catch_up_pass,
            found: run.checkpoint.catch_up_found,
            pass_pages: run.checkpoint.pass_pages,
        }
    }

    fn restore<S, R>(self, run: &mut Run<'_, S, R>) {
        run.checkpoint.next_token = self.token;
        run.checkpoint.catch_up_pass = self.pass;
        run.checkpoint.pass_pages = self.pass_pages;
        // A catch-up page may have fixed a room (moving it to the head, behind the
        // cursor) before it failed: the redo cannot see that room, so one more pass must.
        run.checkpoint.catch_up_found = if self.pass > 0 {
            self.found.max(1)
        } else {
            self.found
        };
    }
}

/// Pages a pass may list, over all its invocations, before it is taken for endless:
/// twice what the rooms seen so far could fill, and some.
fn pass_page_limit(rooms_seen: usize, page_size: i32) -> u64 {
    let pages = rooms_seen as u64 / page_size.max(1) as u64 + 1;
    2 * pages + 10
}

impl Auditor {
    /// Pages until the sweep completes or the invocation stops. On an error, returns it
    /// with the summary as it was at the start of the failed page (the checkpoint still
    /// points there).
    pub(crate) async fn pages<S: CheckpointStore, R: Report>(
        &self,
        run: &mut Run<'_, S, R>,
    ) -> Result<(), (AuditError, Summary)> {
        if self.scope.rooms() {
            let snapshot = run.summary.clone();
            run.logging = self
                .logging_states(&mut run.budget)
                .await
                .map_err(|e| (e.into(), snapshot))?;
        }
        let mut slowest_page = Duration::ZERO;
        let mut guard = PassGuard::default();
        let mut restarts = 0u32;
        let oldest_changed = run.summary.sweep_started - CLOCK_SKEW_MARGIN_SECS;
        loop {
            if let Some(left) = run.budget.remaining()
                && left < slowest_page + slowest_page / 2
            {
                let stop = ApiError::Deadline {
                    operation: "ListRooms",
                };
                return Err((stop.into(), run.summary.clone()));
            }
            let page_started = Instant::now();
            let snapshot = run.summary.clone();
            let at_start = PageStart::of(run);
            let token = run.checkpoint.next_token.clone();
            let page = run
                .budget
                .call(Group::Room, "ListRooms", || {
                    self.client
                        .list_rooms()
                        .max_results(self.options.page_size)
                        .set_next_token(token.clone())
                        .send()
                })
                .await;
            let page = match page {
                Ok(p) => p,
                // An expired token: list this pass again from the head, skipping the rooms
                // already checked. The sweep and its totals go on.
                Err(ApiError::Rejected { code, .. })
                    if token.is_some() && code.as_deref() == Some("ValidationException") =>
                {
                    restarts += 1;
                    run.summary.token_restarts += 1;
                    tracing::warn!(
                        restarts,
                        "the page token was rejected; listing from the newest room again"
                    );
                    if restarts > MAX_TOKEN_RESTARTS {
                        let e = AuditError::Listing(format!(
                            "{restarts} page tokens were rejected in one invocation"
                        ));
                        return Err((e, snapshot));
                    }
                    run.checkpoint.next_token = None;
                    run.checkpoint.pass_pages = 0;
                    guard = PassGuard::default();
                    continue;
                }
                Err(e) => return Err((e.into(), snapshot)),
            };
            let keys: Vec<u64> = page
                .rooms()
                .iter()
                .map(|r| room_key(r.arn().unwrap_or_default()))
                .collect();
            let mut next = page.next_token().map(str::to_string);
            run.checkpoint.pass_pages += 1;
            let limit = pass_page_limit(run.seen.len(), self.options.page_size);
            let endless = guard
                .page(next.as_deref(), &keys, self.options.page_size)
                .err()
                .or_else(|| {
                    (run.checkpoint.pass_pages > limit).then(|| {
                        format!(
                            "a pass listed {} pages with {} rooms seen",
                            run.checkpoint.pass_pages,
                            run.seen.len()
                        )
                    })
                });
            if let Some(why) = endless {
                at_start.restore(run);
                return Err((AuditError::Listing(why), snapshot));
            }
            let catching_up = run.checkpoint.catch_up_pass > 0;
            for (room, key) in page.rooms().iter().zip(keys) {
                if run.seen.contains(key) {
                    continue;
                }
                let scanned = match self.room(run, room).await {
                    Ok(scanned) => scanned,
                    Err(e) => {
                        at_start.restore(run);
                        return Err((e.into(), snapshot));
                    }
                };
                run.seen.insert(key);
                if catching_up && scanned {
                    run.summary.rooms_caught_up += 1;
                    run.checkpoint.catch_up_found += 1;
                }
            }
            // A catch-up pass ends at the first room last updated before the sweep began.
            let reached_old = page
                .rooms()
                .iter()
                .any(|r| r.update_time().is_some_and(|t| t.secs() < oldest_changed));
            if catching_up && reached_old {
                next = None;
            }
            if next.is_none() {
                let pass = run.checkpoint.catch_up_pass;
                if pass > 0 && (run.checkpoint.catch_up_found == 0 || pass >= MAX_CATCH_UP_PASSES) {
                    if run.checkpoint.catch_up_found > 0 {
                        tracing::warn!(
                            passes = pass,
                            "rooms keep changing faster than the sweep catches up; the next sweep checks the rest"
                        );
                    }
                    run.summary.status = SweepStatus::Complete;
                    run.sync();
                    return Ok(());
                }
                // The end of a pass that found something: another pass from the head.
                run.checkpoint.catch_up_pass = pass + 1;
                run.checkpoint.catch_up_found = 0;
                run.checkpoint.pass_pages = 0;
                run.summary.catch_up_passes = u64::from(pass + 1);
                guard = PassGuard::default();
            }
            run.checkpoint.next_token = next;
            if let Err(e) = self.save_page(run).await {
                // Point back at this page: it is redone, not skipped.
                at_start.restore(run);
                return Err((e.into(), snapshot));
            }
            slowest_page = slowest_page.max(page_started.elapsed());
        }
    }

    /// Saves the checkpoint that counts the page, with the rooms it checked first as the
    /// next page of the seen set (a page of rooms already seen adds nothing to it).
    async fn save_page<S: CheckpointStore, R: Report>(
        &self,
        run: &mut Run<'_, S, R>,
    ) -> Result<(), crate::checkpoint::StoreError> {
        if run.seen.page().is_empty() {
            return run.save().await;
        }
        let page = run.checkpoint.pages;
        run.checkpoint.pages = page + 1;
        if let Err(e) = run.save_with_page(page).await {
            run.checkpoint.pages = page;
            return Err(e);
        }
        run.seen.next_page();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_tells_a_listing_that_does_not_end() {
        let mut g = PassGuard::default();
        assert!(g.page(Some("a"), &[1, 2], 2).is_ok());
        assert!(g.page(Some("b"), &[3, 4], 2).is_ok());
        assert!(g.page(Some("a"), &[5], 2).is_err(), "token met twice");

        let mut g = PassGuard::default();
        for i in 0..MAX_EMPTY_PAGES - 1 {
            assert!(g.page(Some(&i.to_string()), &[], 2).is_ok());
        }
        assert!(g.page(Some("last"), &[], 2).is_err(), "empty pages");
        assert!(
            PassGuard::default().page(None, &[], 2).is_ok(),
            "an empty fleet"
        );

        let mut g = PassGuard::default();
        assert!(g.page(Some("a"), &[1, 2], 2).is_ok());
        assert!(g.page(Some("b"), &[1, 2], 2).is_ok(), "two repeats");
        assert!(g.page(Some("c"), &[1, 2], 2).is_ok(), "four repeats");
        assert!(g.page(Some("d"), &[1], 2).is_err(), "five repeats");
    }
}

//! The retirement step of collect (see `core::retire`), after the verdict step and
//! before the state save and the alert: the Recycle Bin rules once, the core's plan,
//! then per decision: the state saved with the intent, the calls, the state saved with
//! the result and its news. Last, the run's `actions` object.

use serde::Serialize;

use super::Failure;
use super::archive::Archive;
use super::verdicts::Decided;
use crate::aws::{retire as calls, s3};
use crate::core::archive::jsonl;
use crate::core::retire::RecycleBinRule;
use crate::core::retire::{ActionEntry, action_row, actions_object, entry_of, rows_by_run};
use crate::core::retire::{Decision, Outcome, RetireInput, RetireMode, plan, state_while_off, tagged};
use crate::core::state::retirement_news;
use crate::core::state::{CollectState, News};

/// collect's summary `retire` block (present when `RETIRE_MODE` ≠ off, or while off
/// when AMIs still carry the stage tag).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetireSummary {
    pub mode: RetireMode,
    pub done: usize,
    pub would: usize,
    pub failed: usize,
    pub held: usize,
    /// Undos (enable, cancel_deprecation) done or, in a dry run, that would be done.
    pub undone: usize,
    pub actions: Vec<ActionEntry>,
    /// The actions object this run wrote.
    pub object: Option<String>,
    /// AMIs carrying the stage tag while `RETIRE_MODE=off`: left deprecated or disabled.
    pub tagged_while_off: Vec<String>,
}

impl RetireSummary {
    fn count(&mut self, d: &Decision) {
        match d.outcome {
            Outcome::Done => self.done += 1,
            Outcome::Would => self.would += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Held => self.held += 1,
        }
        if d.action.is_undo() && matches!(d.outcome, Outcome::Done | Outcome::Would) {
            self.undone += 1;
        }
        self.actions.push(entry_of(d));
    }
}

/// Runs the pipeline for this run's verdicts. `news` (what the run has to say so far)
/// is queued first, since the state is saved before the final save. Only a state save
/// that fails is an error; a refused call is a failure of the run (exit 3).
pub async fn run(
    archive: &Archive<'_>,
    state: &mut CollectState,
    decided: &Decided,
    news: &mut Vec<News>,
    failed: &mut Vec<Failure>,
) -> anyhow::Result<Option<RetireSummary>> {
    let r = archive.run;
    let mode = r.config.retire.mode;
    if mode == RetireMode::Off {
        state.retire = state_while_off(&state.retire);
        let tagged_while_off = tagged(&decided.amis);
        return Ok((!tagged_while_off.is_empty()).then(|| RetireSummary { tagged_while_off, ..Default::default() }));
    }
    let rules = recycle_bin_rules(archive, failed).await;
    let candidate_since = state.amis.iter().filter_map(|(id, a)| Some((id.clone(), a.candidate_since?))).collect();
    let planned = plan(&RetireInput {
        settings: &r.config.retire,
        owner_account_id: &archive.provenance.owner_account_id,
        now: r.now,
        amis: &decided.amis,
        verdicts: &decided.verdicts.verdicts,
        candidate_since: &candidate_since,
        rules: &rules,
        state: &state.retire,
    });
    state.retire = planned.state;
    state.enqueue(news.drain(..));
    let mut summary = RetireSummary { mode, ..Default::default() };
    let mut done: Vec<Decision> = Vec::new();
    for mut d in planned.decisions {
        if r.deadline.passed() {
            break;
        }
        // After a refused call, the AMI's later steps (an undo's second half) wait too.
        if done.iter().any(|p| p.image_id == d.image_id && p.outcome == Outcome::Failed) {
            continue;
        }
        carry_out(archive, state, &mut d, failed).await?;
        summary.count(&d);
        done.push(d);
    }
    summary.object = write_actions(archive, state, failed).await;
    Ok(Some(summary))
}

/// The rules once per run. Unreadable rules are a failure, and then no AMI counts as
/// covered: deregistrations wait (`no_recycle_bin_rule`), nothing else does.
async fn recycle_bin_rules(archive: &Archive<'_>, failed: &mut Vec<Failure>) -> Vec<RecycleBinRule> {
    match calls::image_rules(archive.run.clients).await {
        Ok(rules) => rules,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "Recycle Bin rules unreadable: no deregistration this run");
            failed.push(Failure { id: "retire:recycle-bin-rules".into(), error: format!("{e:#}") });
            Vec::new()
        }
    }
}

async fn save(archive: &Archive<'_>, state: &CollectState) -> anyhow::Result<()> {
    archive.save_state(state).await
}

/// One decision: intent saved, calls made in order (the first refusal stops them and
/// leaves the intent for the next run to re-check), result, row and news saved. A
/// hold, or a dry run's decision, is saved with the state's next write.
async fn carry_out(
    archive: &Archive<'_>,
    state: &mut CollectState,
    d: &mut Decision,
    failed: &mut Vec<Failure>,
) -> anyhow::Result<()> {
    let r = archive.run;
    // A completion of an interrupted action records its result at once, like an action.
    let completes = state.retire.interrupted(&d.image_id);
    if !d.calls.is_empty() {
        state.retire.intend(d, r.now);
        save(archive, state).await?;
        for call in &d.calls {
            if let Err(e) = calls::call(r.clients, &d.image_id, call).await {
                let error = format!("{e:#}");
                tracing::warn!(image_id = %d.image_id, action = d.action.as_str(), %error, "retirement action failed");
                failed.push(Failure { id: format!("retire:{}", d.image_id), error: error.clone() });
                d.refused(error);
                break;
            }
        }
    }
    state.retire.conclude(d);
    let mode = r.config.retire.mode;
    state.enqueue([retirement_news(d, mode, &archive.provenance.region)]);
    state.retire.unarchived.push(action_row(d, mode, &archive.provenance));
    if d.calls.is_empty() && !completes { Ok(()) } else { save(archive, state).await }
}

/// The rows not archived yet (this run's, and those of a run that died after acting),
/// one object per run that made them (`If-None-Match: *`: rows an earlier attempt
/// wrote are not written twice); returns this run's key. Rows whose object could not be
/// written stay in the state for the next run.
async fn write_actions(archive: &Archive<'_>, state: &mut CollectState, failed: &mut Vec<Failure>) -> Option<String> {
    let r = archive.run;
    let mut this_run = None;
    for (at, rows) in rows_by_run(std::mem::take(&mut state.retire.unarchived)) {
        let key = actions_object(&archive.keys, &archive.provenance.region, at, &rows);
        let written = match jsonl::encode(&rows) {
            Ok(body) => s3::put_if_absent(&r.clients.s3, archive.bucket, &key, body).await.map(drop),
            Err(e) => Err(e.into()),
        };
        match written {
            Ok(()) if at == r.now => this_run = Some(key),
            Ok(()) => {}
            Err(e) => {
                failed.push(Failure { id: "actions".into(), error: format!("{e:#}") });
                state.retire.unarchived.extend(rows);
            }
        }
    }
    this_run
}

#[cfg(test)]
#[path = "retire_tests.rs"]
mod tests;

//! The retirement step of collect (see `core::retire`), after the verdict step and
//! before the state save and the alert: the Recycle Bin rules, the AMIs outside the
//! selection it still answers for and the snapshots' tags once, the core's plan, then
//! per decision: the launch permissions read before a DisableImage, the state saved with
//! the intent, the calls (after a DeregisterImage: its Recycle Bin exit time), the state
//! saved with the result and its news. Last, the run's `actions` object, and the
//! records of deregistered AMIs whose rows it archived leave the state.

use serde::Serialize;

use super::Failure;
use super::archive::Archive;
use super::verdicts::Decided;
use crate::aws::{ec2, retire as calls, s3};
use crate::core::archive::jsonl;
use crate::core::model::{Ami, Tags};
use crate::core::retire::{Action, Call, Decision, Outcome, RetireInput, RetireMode, plan, state_while_off, tagged};
use crate::core::retire::{ActionEntry, action_row, actions_object, entry_of, rows_by_run};
use crate::core::retire::{RecycleBinRule, records_to_look_up, snapshots_to_read};
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
    let settings = &r.config.retire;
    let snapshots = settings.delete_snapshots && settings.require_recycle_bin;
    let rules = recycle_bin_rules(archive, snapshots, failed).await;
    let others = outside_selection(archive, state, decided, failed).await;
    let described: Vec<Ami> = decided.amis.iter().chain(others.iter().flatten()).cloned().collect();
    let snapshot_tags = snapshot_tags(archive, snapshots_to_read(settings, &state.retire, &described), failed).await;
    let candidate_since = state.amis.iter().filter_map(|(id, a)| Some((id.clone(), a.candidate_since?))).collect();
    let planned = plan(&RetireInput {
        settings,
        owner_account_id: &archive.provenance.owner_account_id,
        now: r.now,
        amis: &decided.amis,
        verdicts: &decided.verdicts.verdicts,
        candidate_since: &candidate_since,
        rules: &rules,
        state: &state.retire,
        others: others.as_deref(),
        snapshot_tags: &snapshot_tags,
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
    state.retire.forget_finished();
    Ok(Some(summary))
}

/// The rules once per run (snapshot rules too when snapshots are deleted). Unreadable
/// rules are a failure, and then no AMI counts as covered: deregistrations wait
/// (`no_recycle_bin_rule`), nothing else does.
async fn recycle_bin_rules(archive: &Archive<'_>, snapshots: bool, failed: &mut Vec<Failure>) -> Vec<RecycleBinRule> {
    match calls::rules(archive.run.clients, snapshots).await {
        Ok(rules) => rules,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "Recycle Bin rules unreadable: no deregistration this run");
            failed.push(Failure { id: "retire:recycle-bin-rules".into(), error: format!("{e:#}") });
            Vec::new()
        }
    }
}

/// The AMIs outside the selection the pipeline still answers for (stage tag, or a
/// record). Unreadable: a failure, and their records wait (`None`).
async fn outside_selection(
    archive: &Archive<'_>,
    state: &CollectState,
    decided: &Decided,
    failed: &mut Vec<Failure>,
) -> Option<Vec<Ami>> {
    let ids = records_to_look_up(&state.retire, &decided.amis);
    match calls::staged_images(archive.run.clients, &ids).await {
        Ok(amis) => Some(amis),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "AMIs outside the selection unreadable: their records wait");
            failed.push(Failure { id: "retire:outside-selection".into(), error: format!("{e:#}") });
            None
        }
    }
}

/// The tags of the snapshots a deregistration may delete. Unreadable: a failure, and
/// those deregistrations wait (`no_snapshot_rule`).
async fn snapshot_tags(
    archive: &Archive<'_>,
    ids: std::collections::BTreeSet<String>,
    failed: &mut Vec<Failure>,
) -> std::collections::BTreeMap<String, Tags> {
    if ids.is_empty() {
        return Default::default();
    }
    match calls::snapshot_tags(archive.run.clients, &ids).await {
        Ok(tags) => tags,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "snapshot tags unreadable: deregistrations that delete them wait");
            failed.push(Failure { id: "retire:snapshot-tags".into(), error: format!("{e:#}") });
            Default::default()
        }
    }
}

async fn save(archive: &Archive<'_>, state: &CollectState) -> anyhow::Result<()> {
    archive.save_state(state).await
}

/// One decision: launch permissions read (before a DisableImage), intent saved, calls
/// made in order (the first refusal stops them and leaves the intent for the next run to
/// re-check), result, row and news saved. A hold, or a dry run's decision, is saved
/// with the state's next write.
async fn carry_out(
    archive: &Archive<'_>,
    state: &mut CollectState,
    d: &mut Decision,
    failed: &mut Vec<Failure>,
) -> anyhow::Result<()> {
    let r = archive.run;
    // A completion of an interrupted action records its result at once, like an action.
    let completes = state.retire.interrupted(&d.image_id);
    if d.needs_launch_permissions() {
        match ec2::launch_permissions(&r.clients.ec2, &d.image_id).await {
            Ok(p) => d.record_launch_permissions(p),
            Err(e) => refused(d, format!("{e:#}"), failed),
        }
    }
    let mut results = None;
    if !d.calls.is_empty() && d.outcome != Outcome::Failed {
        state.retire.intend(d, r.now);
        save(archive, state).await?;
        for call in d.calls.clone() {
            match calls::call(r.clients, &d.image_id, &call).await {
                Ok(answer) if matches!(call, Call::Deregister { .. }) => results = answer,
                Ok(_) => {}
                Err(e) => {
                    refused(d, format!("{e:#}"), failed);
                    break;
                }
            }
        }
    }
    if d.action == Action::Deregister && d.outcome == Outcome::Done && d.recycle_bin_rule.is_some() {
        d.deregistered(results, recycle_bin_exit(archive, &d.image_id).await);
    }
    state.retire.conclude(d);
    let mode = r.config.retire.mode;
    state.enqueue([retirement_news(d, mode, &archive.provenance.region)]);
    state.retire.unarchived.push(action_row(d, mode, &archive.provenance));
    if d.calls.is_empty() && !completes { Ok(()) } else { save(archive, state).await }
}

fn refused(d: &mut Decision, error: String, failed: &mut Vec<Failure>) {
    tracing::warn!(image_id = %d.image_id, action = d.action.as_str(), %error, "retirement action failed");
    failed.push(Failure { id: format!("retire:{}", d.image_id), error: error.clone() });
    d.refused(error);
}

/// The deregistered AMI's exit time from the Recycle Bin; unreadable, the decision
/// says the deregistration time + retention instead (not a failure: the AMI is in).
async fn recycle_bin_exit(archive: &Archive<'_>, image_id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    match calls::recycle_bin_exit(archive.run.clients, image_id).await {
        Ok(exit) => exit,
        Err(e) => {
            tracing::warn!(%image_id, error = %format!("{e:#}"), "Recycle Bin exit time unreadable: retention counted");
            None
        }
    }
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

#[cfg(test)]
#[path = "retire_promises_tests.rs"]
mod promises_tests;

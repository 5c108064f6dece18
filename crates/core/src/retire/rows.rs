//! What the retirement pipeline writes and says: the `actions` dataset's rows and key
//! (a **contract**: the Glue table `actions` reads these names), the undo commands,
//! and the summary's entries.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{Action, ActionRow, Decision, Outcome, RetireMode};
use crate::archive::{ArchiveKeys, Dataset, Provenance};

/// The AWS CLI command that undoes a step that was (or would be) taken; `None` for
/// holds, failures, undos, and a deregistration no Recycle Bin rule can restore.
pub fn undo_command(d: &Decision, region: &str) -> Option<String> {
    if !matches!(d.outcome, Outcome::Done | Outcome::Would) {
        return None;
    }
    let command = match d.action {
        Action::Deprecate => "disable-image-deprecation",
        Action::Disable => "enable-image",
        Action::Deregister if d.recycle_bin_rule.is_some() => "restore-image-from-recycle-bin",
        _ => return None,
    };
    Some(format!("aws ec2 {command} --image-id {} --region {region}", d.image_id))
}

pub fn action_row(d: &Decision, mode: RetireMode, p: &Provenance) -> ActionRow {
    ActionRow {
        action_time: p.collected_at,
        owner_account_id: p.owner_account_id.clone(),
        region: p.region.clone(),
        image_id: d.image_id.clone(),
        image_name: d.image_name.clone(),
        mode,
        action: d.action,
        outcome: d.outcome,
        stage_before: d.stage_before,
        stage_after: d.stage_after,
        reason: d.reason.clone(),
        detail: Some(d.detail.clone()).filter(|s| !s.is_empty()),
        deprecate_at: d.deprecate_at,
        recycle_bin_rule: d.recycle_bin_rule.clone(),
        delete_snapshots: d.delete_snapshots,
        undo_command: undo_command(d, &p.region),
    }
}

/// FNV-1a (32 bits) of the rows' JSON: two runs in the same second never share a key.
fn digest(rows: &[ActionRow]) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in rows.iter().flat_map(|r| serde_json::to_vec(r).unwrap_or_default()) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

/// `<prefix>/actions/region=<region>/report_date=<run date>/<run time>-<digest>.json.gz`:
/// the same rows always get the same key, so a run that writes the rows of a run that
/// died after writing them meets `If-None-Match` instead of a duplicate.
pub fn actions_object(keys: &ArchiveKeys, region: &str, at: DateTime<Utc>, rows: &[ActionRow]) -> String {
    format!(
        "{}{}-{}.json.gz",
        keys.partition(Dataset::Actions, region, at.date_naive()),
        at.format("%Y%m%dT%H%M%SZ"),
        digest(rows)
    )
}

/// One entry of the summary's `retire.actions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionEntry {
    pub image_id: String,
    pub action: Action,
    pub outcome: Outcome,
    pub reason: String,
}

pub fn entry_of(d: &Decision) -> ActionEntry {
    ActionEntry { image_id: d.image_id.clone(), action: d.action, outcome: d.outcome, reason: d.reason.clone() }
}

/// Rows by the run that made them (their `action_time`), oldest first: one object each.
pub fn rows_by_run(rows: Vec<ActionRow>) -> Vec<(DateTime<Utc>, Vec<ActionRow>)> {
    let mut runs: std::collections::BTreeMap<DateTime<Utc>, Vec<ActionRow>> = Default::default();
    for row in rows {
        runs.entry(row.action_time).or_default().push(row);
    }
    runs.into_iter().collect()
}

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;

//! What the retirement pipeline writes and says: the `actions` dataset's rows and key
//! (a **contract**: the Glue table `actions` reads these names), the undo and restore
//! commands, and the summary's entries.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{Action, ActionRow, Decision, Outcome, PermissionsRow, RetireMode};
use crate::archive::{ArchiveKeys, Dataset, Provenance};
use crate::model::LaunchPermissions;

/// The AWS CLI command (or commands, joined by `&&`) that undoes a step that was (or
/// would be) taken; `None` for holds, failures, undos, a deprecation that stayed its
/// owners' (the pipeline changed none), and a deregistration no Recycle Bin rule keeps.
pub fn undo_command(d: &Decision, region: &str) -> Option<String> {
    if !matches!(d.outcome, Outcome::Done | Outcome::Would) {
        return None;
    }
    let id = &d.image_id;
    let ec2 = |rest: String| format!("aws ec2 {rest} --region {region}");
    match d.action {
        Action::Deprecate => match (d.deprecate_at, d.team_deprecation) {
            (Some(at), Some(theirs)) if at == theirs => None,
            (_, Some(theirs)) => Some(ec2(format!(
                "enable-image-deprecation --image-id {id} --deprecate-at {}",
                theirs.format("%Y-%m-%dT%H:%M:%SZ")
            ))),
            _ => Some(ec2(format!("disable-image-deprecation --image-id {id}"))),
        },
        Action::Disable => {
            let mut commands = vec![ec2(format!("enable-image --image-id {id}"))];
            if let Some(p) = d.launch_permissions.as_ref().filter(|p| !p.is_empty()) {
                commands.push(ec2(format!(
                    "modify-image-attribute --image-id {id} --launch-permission '{}'",
                    launch_permission_json(p)
                )));
            }
            Some(commands.join(" && "))
        }
        Action::Deregister if d.recycle_bin_rule.is_some() => Some(restore_commands(d, region)),
        _ => None,
    }
}

/// `--launch-permission`'s JSON: every permission DisableImage removed, to add back.
fn launch_permission_json(p: &LaunchPermissions) -> String {
    let mut add: Vec<serde_json::Value> = Vec::new();
    add.extend(p.accounts.iter().map(|a| serde_json::json!({ "UserId": a })));
    add.extend(p.organizations.iter().map(|a| serde_json::json!({ "OrganizationArn": a })));
    add.extend(p.organizational_units.iter().map(|a| serde_json::json!({ "OrganizationalUnitArn": a })));
    if p.public {
        add.push(serde_json::json!({ "Group": "all" }));
    }
    serde_json::json!({ "Add": add }).to_string()
}

/// Restoring a deregistered AMI: its deleted snapshots first (AWS restores an AMI only
/// once its snapshots are back and completed), then the AMI.
fn restore_commands(d: &Decision, region: &str) -> String {
    let snapshots = d.deregistration.as_ref().map(|f| f.snapshots_in_bin(&d.snapshot_results)).unwrap_or_default();
    let mut commands: Vec<String> = snapshots
        .iter()
        .map(|s| format!("aws ec2 restore-snapshot-from-recycle-bin --snapshot-id {s} --region {region}"))
        .collect();
    if !snapshots.is_empty() {
        commands
            .push(format!("aws ec2 wait snapshot-completed --snapshot-ids {} --region {region}", snapshots.join(" ")));
    }
    commands.push(format!("aws ec2 restore-image-from-recycle-bin --image-id {} --region {region}", d.image_id));
    commands.join(" && ")
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
        team_deprecation_at: d.team_deprecation,
        launch_permissions: d.launch_permissions.as_ref().map(PermissionsRow::from),
        recycle_bin_retention_days: d.deregistration.as_ref().and_then(|f| f.retention_days),
        restorable_until: d.restorable_until,
        snapshot_results: d.snapshot_results.clone(),
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

//! The retirement section of the alert (e-mail and Slack share these lines): each
//! decision of the pipeline once, what it did or would do, and the command that undoes it.

use super::text::{clean, plural};
use crate::model::LaunchPermissions;
use crate::retire::{Action, Outcome, RetireMode};
use crate::state::News;
use crate::timestamp;

pub(super) const EMAIL_TITLE: &str =
    "RETIREMENT (staged and reversible: each line says how to undo it; dry-run lines changed nothing)";
pub(super) const CHAT_TITLE: &str = "Retirement";

/// "2 retirement actions, 1 held" or, in a dry run, "2 would-retire actions".
pub(super) fn subject_part(items: &[&News]) -> String {
    let count = |want: Outcome| {
        items.iter().filter(|n| matches!(n, News::Retirement { outcome, .. } if *outcome == want)).count()
    };
    let mut parts = Vec::new();
    let acted = count(Outcome::Done) + count(Outcome::Failed);
    if acted > 0 {
        parts.push(plural(acted, "retirement action", "retirement actions"));
    }
    if count(Outcome::Would) > 0 {
        parts.push(plural(count(Outcome::Would), "would-retire action", "would-retire actions"));
    }
    if count(Outcome::Held) > 0 {
        parts.push(format!("{} retirement held", count(Outcome::Held)));
    }
    parts.join(", ")
}

/// "accounts 111111111111, 222222222222; organizations arn:…; OUs arn:…; public", or "none".
fn permissions_text(p: &LaunchPermissions) -> String {
    let mut parts = Vec::new();
    for (label, items) in
        [("accounts", &p.accounts), ("organizations", &p.organizations), ("OUs", &p.organizational_units)]
    {
        if !items.is_empty() {
            parts.push(format!("{label} {}", items.join(", ")));
        }
    }
    if p.public {
        parts.push("public".to_string());
    }
    if parts.is_empty() { "none".to_string() } else { parts.join("; ") }
}

fn done_text(n: &News) -> String {
    let News::Retirement { action, stage_after, launch_permissions, team_deprecation, deprecate_at, .. } = n else {
        return String::new();
    };
    match (action, launch_permissions) {
        (Action::Deprecate, _) => "deprecated".into(),
        (Action::Disable, Some(p)) => format!(
            "disabled (private, launch permissions removed and recorded for the undo: {}; running instances unaffected)",
            permissions_text(p)
        ),
        (Action::Disable, None) => {
            "disabled (private, launch permissions removed; running instances unaffected)".into()
        }
        (Action::Deregister, _) => "deregistered".into(),
        (Action::Enable, Some(p)) if !p.is_empty() => {
            format!("enabled again, launch permissions restored: {}", permissions_text(p))
        }
        (Action::Enable, Some(_)) => "enabled again (it had no launch permissions to restore)".into(),
        (Action::Enable, None) => {
            "enabled again (its launch permissions were not recorded: re-share it by hand if needed)".into()
        }
        (Action::CancelDeprecation, _) => match (team_deprecation, deprecate_at) {
            (Some(t), _) => format!("deprecation put back to its owners' {}, stage tag removed", timestamp::format(t)),
            (None, Some(_)) => "deprecation cancelled, stage tag removed".into(),
            (None, None) => "deprecation left as its owners set it, stage tag removed".into(),
        },
        (Action::Hold, _) => stage_after.as_str().into(),
    }
}

/// What follows the reason: the deprecation time (and whose it is), how long a
/// deregistered AMI stays restorable and what became of its snapshots.
fn facts_text(n: &News) -> String {
    let News::Retirement {
        action,
        deprecate_at,
        team_deprecation,
        restorable_until,
        snapshot_results,
        blocks_launches_in,
        ..
    } = n
    else {
        return String::new();
    };
    let mut text = String::new();
    if let (Some(at), Action::Deprecate) = (deprecate_at, action) {
        text.push_str(&format!("; deprecation at {}", timestamp::format(at)));
        match team_deprecation {
            Some(t) if t == at => text.push_str(" (its owners', kept)"),
            Some(t) => text.push_str(&format!(" (replacing its owners' {}, put back on undo)", timestamp::format(t))),
            None => {}
        }
        if !blocks_launches_in.is_empty() {
            let accounts = blocks_launches_in.join(", ");
            text.push_str(&format!("; ! Allowed AMIs refuse deprecated AMIs in {accounts}: launches there stop then"));
        }
    }
    if let (Some(until), Action::Deregister) = (restorable_until, action) {
        text.push_str(&format!("; restorable from the Recycle Bin until {}", timestamp::format(until)));
    }
    if !snapshot_results.is_empty() {
        let results: Vec<String> =
            snapshot_results.iter().map(|r| format!("{} {}", r.snapshot_id, r.return_code)).collect();
        text.push_str(&format!("; snapshots: {}", results.join(", ")));
    }
    text
}

/// One line of the section, e.g. `- ami-1  name: deprecated (candidate_for_days); deprecation at …; undo: aws ec2 …`.
pub(super) fn line(n: &News) -> String {
    let News::Retirement { image_id, name, mode, action, outcome, reason, stage_before, detail, undo_command, .. } = n
    else {
        return String::new();
    };
    let what = match outcome {
        Outcome::Done => done_text(n),
        Outcome::Would => format!("would {} (dry run: nothing changed)", action.as_str().replace('_', " ")),
        Outcome::Failed => format!("{} FAILED, retried next run", action.as_str().replace('_', " ")),
        Outcome::Held => format!("held at {}, next step waits", stage_before.as_str()),
    };
    let mut text = format!("- {image_id}  {}: {what} ({reason}", clean(name));
    if !detail.is_empty() {
        text.push_str(&format!(": {}", clean(detail)));
    }
    text.push(')');
    text.push_str(&clean(&facts_text(n)));
    if let Some(undo) = undo_command {
        let verb = if *action == Action::Deregister { "restore" } else { "undo" };
        let label = if *mode == RetireMode::DryRun { format!("{verb} would be") } else { verb.to_string() };
        text.push_str(&format!("; {label}: {}", clean(undo)));
    }
    text
}

#[cfg(test)]
#[path = "retire_tests.rs"]
mod tests;

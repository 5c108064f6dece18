//! The retirement section of the alert (e-mail and Slack share these lines): each
//! decision of the pipeline once, what it did or would do, and the command that undoes it.

use super::text::{clean, plural};
use crate::retire::{Action, Outcome, RetireMode, Stage};
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

fn done_text(action: Action, stage_after: Stage) -> &'static str {
    match action {
        Action::Deprecate => "deprecated",
        Action::Disable => "disabled (private, launch permissions removed; running instances unaffected)",
        Action::Deregister => "deregistered",
        Action::Enable => "enabled again (launch permissions are not restored: re-share it by hand if needed)",
        Action::CancelDeprecation => "deprecation cancelled, stage tag removed",
        Action::Hold => stage_after.as_str(),
    }
}

/// One line of the section, e.g. `- ami-1  name: deprecated (candidate_for_days); deprecation at …; undo: aws ec2 …`.
pub(super) fn line(n: &News) -> String {
    let News::Retirement {
        image_id,
        name,
        mode,
        action,
        outcome,
        reason,
        stage_before,
        stage_after,
        detail,
        deprecate_at,
        undo_command,
        blocks_launches_in,
        ..
    } = n
    else {
        return String::new();
    };
    let what = match outcome {
        Outcome::Done => done_text(*action, *stage_after).to_string(),
        Outcome::Would => format!("would {} (dry run: nothing changed)", action.as_str().replace('_', " ")),
        Outcome::Failed => format!("{} FAILED, retried next run", action.as_str().replace('_', " ")),
        Outcome::Held => format!("held at {}, next step waits", stage_before.as_str()),
    };
    let mut text = format!("- {image_id}  {}: {what} ({reason}", clean(name));
    if !detail.is_empty() {
        text.push_str(&format!(": {}", clean(detail)));
    }
    text.push(')');
    if let (Some(at), Action::Deprecate) = (deprecate_at, action) {
        text.push_str(&format!("; deprecation at {}", timestamp::format(at)));
        if !blocks_launches_in.is_empty() {
            let accounts = clean(&blocks_launches_in.join(", "));
            text.push_str(&format!("; ! Allowed AMIs refuse deprecated AMIs in {accounts}: launches there stop then"));
        }
    }
    if let Some(undo) = undo_command {
        let label = if *mode == RetireMode::DryRun { "undo would be" } else { "undo" };
        text.push_str(&format!("; {label}: {}", clean(undo)));
    }
    text
}

#[cfg(test)]
#[path = "retire_tests.rs"]
mod tests;

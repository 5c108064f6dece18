//! The retirement section of the alert, in both renderings (golden lines).

use super::super::email::tests::ctx;
use super::*;
use crate::alert::render;
use crate::fixtures::t;
use crate::retire::Stage;
use crate::state::Standing;

fn news(id: &str, mode: RetireMode, action: Action, outcome: Outcome, reason: &str) -> News {
    let undo = match (action, outcome) {
        (Action::Deprecate, Outcome::Done | Outcome::Would) => {
            Some(format!("aws ec2 disable-image-deprecation --image-id {id} --region eu-west-1"))
        }
        (Action::Disable, Outcome::Done) => Some(format!("aws ec2 enable-image --image-id {id} --region eu-west-1")),
        _ => None,
    };
    News::Retirement {
        image_id: id.into(),
        name: format!("golden-{id}"),
        mode,
        action,
        outcome,
        reason: reason.into(),
        stage_before: Stage::Candidate,
        stage_after: if outcome == Outcome::Held { Stage::Candidate } else { Stage::Deprecated },
        stage_since: t("2026-11-01T00:00:00Z"),
        detail: if outcome == Outcome::Failed {
            "ec2:DisableImage failed: RequestLimitExceeded".into()
        } else {
            String::new()
        },
        deprecate_at: (action == Action::Deprecate).then(|| t("2026-12-06T10:00:00Z")),
        undo_command: undo,
        blocks_launches_in: vec![],
        team_deprecation: None,
        launch_permissions: None,
        restorable_until: None,
        snapshot_results: vec![],
    }
}

fn golden_news() -> Vec<News> {
    vec![
        news("ami-1", RetireMode::Enforce, Action::Deprecate, Outcome::Done, "candidate_for_days"),
        news("ami-2", RetireMode::Enforce, Action::Disable, Outcome::Failed, "candidate_for_days"),
        news("ami-3", RetireMode::Enforce, Action::Hold, Outcome::Held, "deregistration_protected"),
        news("ami-4", RetireMode::Enforce, Action::Enable, Outcome::Done, "used_again"),
        news("ami-5", RetireMode::DryRun, Action::Deprecate, Outcome::Would, "candidate_for_days"),
    ]
}

#[test]
fn email_golden_lists_each_decision_with_its_undo() {
    let a = render(&golden_news(), &Standing::default(), &ctx());
    assert_eq!(a.subject, "AMI usage eu-west-1: 3 retirement actions, 1 would-retire action, 1 retirement held");
    let section = a.email.split(EMAIL_TITLE).nth(1).expect("the section").split("\n\n").next().unwrap();
    assert_eq!(
        section,
        "
- ami-1  golden-ami-1: deprecated (candidate_for_days); deprecation at 2026-12-06T10:00:00.000Z; undo: aws ec2 disable-image-deprecation --image-id ami-1 --region eu-west-1
- ami-2  golden-ami-2: disable FAILED, retried next run (candidate_for_days: ec2:DisableImage failed: RequestLimitExceeded)
- ami-3  golden-ami-3: held at candidate, next step waits (deregistration_protected)
- ami-4  golden-ami-4: enabled again (its launch permissions were not recorded: re-share it by hand if needed) (used_again)
- ami-5  golden-ami-5: would deprecate (dry run: nothing changed) (candidate_for_days); deprecation at 2026-12-06T10:00:00.000Z; undo would be: aws ec2 disable-image-deprecation --image-id ami-5 --region eu-west-1"
    );
}

#[test]
fn chat_golden_has_a_retirement_section_and_links_the_amis() {
    let a = render(&golden_news(), &Standing::default(), &ctx());
    let chat: serde_json::Value = serde_json::from_str(&a.chat).unwrap();
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(
        description.contains(&format!("*{CHAT_TITLE}*\n• ami-1  golden-ami-1: deprecated (candidate_for_days)")),
        "{description}"
    );
    assert!(description.contains("• ami-5  golden-ami-5: would deprecate (dry run: nothing changed)"), "{description}");
    assert_eq!(chat["metadata"]["relatedResources"], serde_json::json!(["ami-1", "ami-2", "ami-3", "ami-4", "ami-5"]));
}

#[test]
fn text_from_aws_or_tags_cannot_break_a_line() {
    let mut n = news("ami-1", RetireMode::Enforce, Action::Hold, Outcome::Held, "not_owned");
    if let News::Retirement { name, detail, .. } = &mut n {
        *name = "evil\nname".into();
        *detail = "line\r\nbreak".into();
    }
    assert!(!line(&n).contains('\n') && !line(&n).contains('\r'), "{}", line(&n));
}

#[test]
fn a_deprecation_names_the_member_accounts_whose_allowed_amis_stop_launches() {
    let mut n = news("ami-1", RetireMode::Enforce, Action::Deprecate, Outcome::Done, "candidate_for_days");
    if let News::Retirement { blocks_launches_in, .. } = &mut n {
        *blocks_launches_in = vec!["111111111111".into(), "222222222222 (+7 days)".into()];
    }
    let text = line(&n);
    assert!(
        text.contains(
            "; ! Allowed AMIs refuse deprecated AMIs in 111111111111, 222222222222 (+7 days): launches there stop then"
        ),
        "{text}"
    );
}

/// Issue 22: each line says what was recorded or restored, and how to get a
/// deregistered AMI back and until when.
#[test]
fn lines_name_the_permissions_the_owners_deprecation_and_the_restore() {
    let permissions = crate::model::LaunchPermissions {
        accounts: vec!["111111111111".into(), "222222222222".into()],
        organizational_units: vec!["arn:aws:organizations::123456789012:ou/o-abc/ou-1".into()],
        ..Default::default()
    };
    let with = |mut n: News, f: &dyn Fn(&mut News)| {
        f(&mut n);
        line(&n)
    };
    let disabled =
        with(news("ami-2", RetireMode::Enforce, Action::Disable, Outcome::Done, "candidate_for_days"), &|n| {
            if let News::Retirement { launch_permissions, .. } = n {
                *launch_permissions = Some(permissions.clone());
            }
        });
    assert_eq!(
        disabled,
        "- ami-2  golden-ami-2: disabled (private, launch permissions removed and recorded for the undo: accounts \
         111111111111, 222222222222; OUs arn:aws:organizations::123456789012:ou/o-abc/ou-1; running instances \
         unaffected) (candidate_for_days); undo: aws ec2 enable-image --image-id ami-2 --region eu-west-1"
    );
    let enabled = with(news("ami-4", RetireMode::Enforce, Action::Enable, Outcome::Done, "used_again"), &|n| {
        if let News::Retirement { launch_permissions, .. } = n {
            *launch_permissions = Some(permissions.clone());
        }
    });
    assert!(
        enabled.starts_with(
            "- ami-4  golden-ami-4: enabled again, launch permissions restored: accounts 111111111111, 222222222222; OUs"
        ),
        "{enabled}"
    );
    let back = with(news("ami-1", RetireMode::Enforce, Action::CancelDeprecation, Outcome::Done, "used_again"), &|n| {
        if let News::Retirement { team_deprecation, .. } = n {
            *team_deprecation = Some(t("2027-06-19T10:00:00Z"));
        }
    });
    assert_eq!(
        back,
        "- ami-1  golden-ami-1: deprecation put back to its owners' 2027-06-19T10:00:00.000Z, stage tag removed (used_again)"
    );
    let replaced =
        with(news("ami-1", RetireMode::Enforce, Action::Deprecate, Outcome::Done, "candidate_for_days"), &|n| {
            if let News::Retirement { team_deprecation, .. } = n {
                *team_deprecation = Some(t("2027-06-19T10:00:00Z"));
            }
        });
    assert!(replaced.contains("(replacing its owners' 2027-06-19T10:00:00.000Z, put back on undo)"), "{replaced}");
    let restore = "aws ec2 restore-snapshot-from-recycle-bin --snapshot-id snap-1 --region eu-west-1 && \
                   aws ec2 wait snapshot-completed --snapshot-ids snap-1 --region eu-west-1 && \
                   aws ec2 restore-image-from-recycle-bin --image-id ami-3 --region eu-west-1";
    let gone =
        with(news("ami-3", RetireMode::Enforce, Action::Deregister, Outcome::Done, "candidate_for_days"), &|n| {
            if let News::Retirement { restorable_until, snapshot_results, undo_command, .. } = n {
                *restorable_until = Some(t("2027-01-30T10:00:00Z"));
                *snapshot_results =
                    vec![crate::retire::SnapshotResult { snapshot_id: "snap-1".into(), return_code: "success".into() }];
                *undo_command = Some(restore.into());
            }
        });
    assert_eq!(
        gone,
        format!(
            "- ami-3  golden-ami-3: deregistered (candidate_for_days); restorable from the Recycle Bin until \
             2027-01-30T10:00:00.000Z; snapshots: snap-1 success; restore: {restore}"
        )
    );
}

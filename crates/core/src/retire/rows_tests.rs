use super::*;
use crate::fixtures::t;
use crate::retire::model::{Deregistration, SnapshotResult, Stage};
use crate::state::{News, retirement_news as news_of};

fn decision(action: Action, outcome: Outcome) -> Decision {
    Decision {
        image_id: "ami-1".into(),
        image_name: "web".into(),
        action,
        outcome,
        stage_before: Stage::Disabled,
        stage_after: Stage::Deregistered,
        stage_since: t("2026-11-01T00:00:00Z"),
        reason: "candidate_for_days".into(),
        recycle_bin_rule: Some("rule0000001".into()),
        ..Decision::default()
    }
}

fn provenance() -> Provenance {
    Provenance {
        owner_account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        collected_at: t("2026-12-01T10:20:30.456Z"),
    }
}

#[test]
fn the_row_has_every_contract_field_null_where_not_applicable() {
    let row = action_row(&decision(Action::Deregister, Outcome::Done), RetireMode::Enforce, &provenance());
    let json = serde_json::to_value(&row).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "action_time",
        "owner_account_id",
        "region",
        "image_id",
        "image_name",
        "mode",
        "action",
        "outcome",
        "stage_before",
        "stage_after",
        "reason",
        "detail",
        "deprecate_at",
        "recycle_bin_rule",
        "delete_snapshots",
        "undo_command",
        "team_deprecation_at",
        "launch_permissions",
        "recycle_bin_retention_days",
        "restorable_until",
        "snapshot_results",
    ];
    want.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, want);
    assert_eq!(json["action_time"], "2026-12-01T10:20:30.456Z");
    assert_eq!(json["mode"], "enforce");
    assert_eq!(json["action"], "deregister");
    assert_eq!(json["outcome"], "done");
    assert_eq!(json["stage_before"], "disabled");
    assert_eq!(json["stage_after"], "deregistered");
    assert!(json["detail"].is_null() && json["deprecate_at"].is_null() && json["launch_permissions"].is_null());
    assert_eq!(json["snapshot_results"], serde_json::json!([]));
    assert_eq!(json["undo_command"], "aws ec2 restore-image-from-recycle-bin --image-id ami-1 --region eu-west-1");
}

#[test]
fn each_step_names_the_command_that_undoes_it_and_nothing_else_does() {
    let undo = |action, outcome| undo_command(&decision(action, outcome), "eu-west-1");
    assert_eq!(
        undo(Action::Deprecate, Outcome::Would).as_deref(),
        Some("aws ec2 disable-image-deprecation --image-id ami-1 --region eu-west-1")
    );
    assert_eq!(
        undo(Action::Disable, Outcome::Done).as_deref(),
        Some("aws ec2 enable-image --image-id ami-1 --region eu-west-1")
    );
    assert_eq!(undo(Action::Disable, Outcome::Failed), None);
    assert_eq!(undo(Action::Hold, Outcome::Held), None);
    assert_eq!(undo(Action::Enable, Outcome::Done), None);
    let unrestorable = Decision { recycle_bin_rule: None, ..decision(Action::Deregister, Outcome::Done) };
    assert_eq!(undo_command(&unrestorable, "eu-west-1"), None);
}

fn permissions() -> LaunchPermissions {
    LaunchPermissions {
        accounts: vec!["111111111111".into()],
        organizations: vec!["arn:aws:organizations::123456789012:organization/o-abc".into()],
        organizational_units: vec!["arn:aws:organizations::123456789012:ou/o-abc/ou-1".into()],
        public: true,
    }
}

#[test]
fn undoing_a_disable_gives_back_every_launch_permission_it_recorded() {
    let d = Decision { launch_permissions: Some(permissions()), ..decision(Action::Disable, Outcome::Done) };
    assert_eq!(
        undo_command(&d, "eu-west-1").unwrap(),
        "aws ec2 enable-image --image-id ami-1 --region eu-west-1 && aws ec2 modify-image-attribute --image-id ami-1 \
         --launch-permission '{\"Add\":[{\"UserId\":\"111111111111\"},\
         {\"OrganizationArn\":\"arn:aws:organizations::123456789012:organization/o-abc\"},\
         {\"OrganizationalUnitArn\":\"arn:aws:organizations::123456789012:ou/o-abc/ou-1\"},{\"Group\":\"all\"}]}' \
         --region eu-west-1"
    );
    let private = Decision { launch_permissions: Some(LaunchPermissions::default()), ..d.clone() };
    assert_eq!(
        undo_command(&private, "eu-west-1").unwrap(),
        "aws ec2 enable-image --image-id ami-1 --region eu-west-1"
    );
    let row = action_row(&d, RetireMode::Enforce, &provenance());
    assert_eq!(
        serde_json::to_value(&row).unwrap()["launch_permissions"],
        serde_json::json!({
            "accounts": ["111111111111"],
            "organizations": ["arn:aws:organizations::123456789012:organization/o-abc"],
            "organizational_units": ["arn:aws:organizations::123456789012:ou/o-abc/ou-1"],
            "public": true,
        })
    );
}

#[test]
fn undoing_a_deprecate_puts_back_the_owners_time_it_replaced_and_none_it_kept() {
    let at = t("2026-12-15T10:00:00Z");
    let replaced = Decision {
        deprecate_at: Some(at),
        team_deprecation: Some(t("2027-06-19T10:00:00Z")),
        ..decision(Action::Deprecate, Outcome::Done)
    };
    assert_eq!(
        undo_command(&replaced, "eu-west-1").as_deref(),
        Some(
            "aws ec2 enable-image-deprecation --image-id ami-1 --deprecate-at 2027-06-19T10:00:00Z --region eu-west-1"
        )
    );
    let kept = Decision { team_deprecation: Some(at), ..replaced.clone() };
    assert_eq!(undo_command(&kept, "eu-west-1"), None, "the pipeline changed no deprecation");
    let row = action_row(&replaced, RetireMode::Enforce, &provenance());
    assert_eq!(row.team_deprecation_at, Some(t("2027-06-19T10:00:00Z")));
}

fn deregistration(delete_snapshots: bool) -> Deregistration {
    Deregistration {
        at: t("2026-12-01T10:20:30Z"),
        image_name: "web".into(),
        recycle_bin_rule: Some("rule0000001".into()),
        retention_days: Some(60),
        delete_snapshots,
        snapshot_ids: if delete_snapshots { vec!["snap-1".into(), "snap-2".into()] } else { vec![] },
        snapshot_retention_days: delete_snapshots.then_some(45),
    }
}

#[test]
fn restoring_a_deregistered_ami_restores_its_deleted_snapshots_first() {
    let kept = Decision { deregistration: Some(deregistration(false)), ..decision(Action::Deregister, Outcome::Done) };
    assert_eq!(
        undo_command(&kept, "eu-west-1").unwrap(),
        "aws ec2 restore-image-from-recycle-bin --image-id ami-1 --region eu-west-1"
    );
    let mut deleted =
        Decision { deregistration: Some(deregistration(true)), ..decision(Action::Deregister, Outcome::Done) };
    let both = "aws ec2 restore-snapshot-from-recycle-bin --snapshot-id snap-1 --region eu-west-1 && \
                aws ec2 restore-snapshot-from-recycle-bin --snapshot-id snap-2 --region eu-west-1 && \
                aws ec2 wait snapshot-completed --snapshot-ids snap-1 snap-2 --region eu-west-1 && \
                aws ec2 restore-image-from-recycle-bin --image-id ami-1 --region eu-west-1";
    assert_eq!(undo_command(&deleted, "eu-west-1").unwrap(), both, "results lost: every snapshot asked for");
    deleted.deregistered(
        Some(vec![
            SnapshotResult { snapshot_id: "snap-1".into(), return_code: "success".into() },
            SnapshotResult { snapshot_id: "snap-2".into(), return_code: "skipped".into() },
        ]),
        Some(t("2027-01-30T10:20:30Z")),
    );
    assert_eq!(
        undo_command(&deleted, "eu-west-1").unwrap(),
        "aws ec2 restore-snapshot-from-recycle-bin --snapshot-id snap-1 --region eu-west-1 && \
         aws ec2 wait snapshot-completed --snapshot-ids snap-1 --region eu-west-1 && \
         aws ec2 restore-image-from-recycle-bin --image-id ami-1 --region eu-west-1",
        "a skipped snapshot was never deleted"
    );
    let row = action_row(&deleted, RetireMode::Enforce, &provenance());
    assert_eq!(row.snapshot_results.len(), 2);
    assert_eq!(row.recycle_bin_retention_days, Some(60));
    assert_eq!(row.restorable_until, Some(t("2027-01-15T10:20:30Z")), "the snapshots' 45 days come first");
}

#[test]
fn the_recycle_bin_lets_go_at_its_exit_time_or_after_the_retention() {
    let kept = deregistration(false);
    assert_eq!(kept.restorable_until(None), Some(t("2027-01-30T10:20:30Z")));
    assert_eq!(kept.restorable_until(Some(t("2027-01-30T10:21:00Z"))), Some(t("2027-01-30T10:21:00Z")));
    let deleted = deregistration(true);
    assert_eq!(deleted.restorable_until(Some(t("2027-01-30T10:21:00Z"))), Some(t("2027-01-15T10:20:30Z")));
    let no_rule = Deregistration { recycle_bin_rule: None, ..kept };
    assert_eq!(no_rule.restorable_until(None), None);
}

#[test]
fn the_actions_key_is_partitioned_by_region_and_run_date_with_a_digest() {
    let keys = ArchiveKeys { prefix: "ami-usage".into() };
    let p = provenance();
    let rows = vec![action_row(&decision(Action::Deregister, Outcome::Done), RetireMode::Enforce, &p)];
    let key = actions_object(&keys, "eu-west-1", p.collected_at, &rows);
    let (dir, file) = key.rsplit_once('/').unwrap();
    assert_eq!(dir, "ami-usage/actions/region=eu-west-1/report_date=2026-12-01");
    let (time, digest) = file.strip_suffix(".json.gz").unwrap().split_once('-').unwrap();
    assert_eq!(time, "20261201T102030Z");
    assert!(digest.len() == 8 && digest.bytes().all(|b| b.is_ascii_hexdigit()), "{digest}");
    let other = vec![action_row(&decision(Action::Hold, Outcome::Held), RetireMode::Enforce, &p)];
    assert_ne!(actions_object(&keys, "eu-west-1", p.collected_at, &other), key);
}

#[test]
fn news_is_keyed_by_ami_stage_entry_action_and_outcome() {
    let done = news_of(&decision(Action::Deregister, Outcome::Done), RetireMode::Enforce, "eu-west-1");
    let would = news_of(&decision(Action::Deregister, Outcome::Would), RetireMode::DryRun, "eu-west-1");
    assert_eq!(done.key(), "retire:ami-1:enforce:disabled:2026-11-01T00:00:00.000Z:deregister:done:candidate_for_days");
    assert_ne!(done.key(), would.key());
    let later = Decision { stage_since: t("2026-12-01T00:00:00Z"), ..decision(Action::Deregister, Outcome::Done) };
    assert_ne!(news_of(&later, RetireMode::Enforce, "eu-west-1").key(), done.key(), "a later stage is news again");
    let back: News = serde_json::from_value(serde_json::to_value(&done).unwrap()).unwrap();
    assert_eq!(back, done);
}

#[test]
fn rows_are_grouped_by_the_run_that_made_them_oldest_first() {
    let p = provenance();
    let earlier = Provenance { collected_at: t("2026-11-30T10:00:00Z"), ..p.clone() };
    let a = action_row(&decision(Action::Deregister, Outcome::Done), RetireMode::Enforce, &p);
    let b = action_row(&decision(Action::Hold, Outcome::Held), RetireMode::Enforce, &earlier);
    let c = action_row(&decision(Action::Hold, Outcome::Held), RetireMode::Enforce, &p);
    let runs = rows_by_run(vec![a.clone(), b.clone(), c.clone()]);
    assert_eq!(runs, vec![(earlier.collected_at, vec![b]), (p.collected_at, vec![a, c])]);
    let row: ActionRow = serde_json::from_value(serde_json::to_value(&runs[1].1[0]).unwrap()).unwrap();
    assert_eq!(row, runs[1].1[0], "a row survives the state's JSON");
}

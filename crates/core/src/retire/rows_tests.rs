use super::*;
use crate::fixtures::t;
use crate::retire::model::Stage;
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
        detail: String::new(),
        deprecate_at: None,
        recycle_bin_rule: Some("rule0000001".into()),
        delete_snapshots: false,
        calls: vec![],
        after: None,
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
    assert!(json["detail"].is_null() && json["deprecate_at"].is_null());
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

use super::*;
use crate::fixtures::t;
use crate::verdict::{AllowedImages, ImageCriterion};

const OWNER: &str = "123456789012";

fn ids(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn retiring(v: &[(&str, &str)]) -> BTreeMap<String, RetiringImage> {
    v.iter()
        .map(|(id, stage)| {
            (
                id.to_string(),
                RetiringImage { image_id: id.to_string(), stage: stage.to_string(), since: t("2026-11-01T00:00:00Z") },
            )
        })
        .collect()
}

#[test]
fn the_probe_looks_up_by_id_what_it_knew_and_what_is_in_retirement_unless_listed() {
    let listed = BTreeMap::from([("ami-1".to_string(), OWNER.to_string())]);
    let lookups =
        by_id_lookups(&ids(&["ami-1", "ami-2"]), &retiring(&[("ami-3", "disabled"), ("ami-2", "deprecated")]), &listed);
    assert_eq!(lookups, ["ami-2", "ami-3"]);
}

#[test]
fn a_by_id_refusal_for_an_id_it_cannot_see_is_absence_anything_else_a_failure() {
    for code in ["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidAMIID.Malformed"] {
        assert!(by_id_refusal_means_absent(Some(code)), "{code}");
    }
    for code in [Some("UnauthorizedOperation"), Some("RequestLimitExceeded"), None] {
        assert!(!by_id_refusal_means_absent(code), "{code:?}");
    }
}

#[test]
fn an_ami_it_cannot_describe_is_checked_by_its_own_scans_and_by_references_when_they_answered() {
    assert_eq!(kinds_checked(true, false), PROBE_KINDS);
    let scans = kinds_checked(false, false);
    assert!(!scans.contains(&"ec2:Instance".to_string()));
    assert_eq!(scans.len(), SCAN_KINDS.len());
    assert_eq!(kinds_checked(false, true), PROBE_KINDS);
}

#[test]
fn scans_keep_references_to_exactly_the_wanted_ids() {
    let r = |arn: &str| OwnerReference { resource_type: "ssm:Parameter".into(), arn: arn.into() };
    let found = vec![
        ("ami-1 ".to_string(), r("arn:p1")),
        ("ami-12".to_string(), r("arn:p2")),
        ("resolve:ssm:/x".to_string(), r("arn:lt")),
        ("ami-1".to_string(), r("arn:p3")),
    ];
    let by_id = references_to(&ids(&["ami-1"]), found);
    assert_eq!(by_id.keys().collect::<Vec<_>>(), ["ami-1"]);
    assert_eq!(by_id["ami-1"].iter().map(|r| r.arn.as_str()).collect::<Vec<_>>(), ["arn:p1", "arn:p3"]);
}

#[test]
fn the_retirement_list_has_its_key_next_to_the_owners_archive_and_names_its_owner() {
    assert_eq!(
        retiring_object("ami-usage/account=123456789012", "eu-west-1"),
        "ami-usage/account=123456789012/retiring/region=eu-west-1/retiring.json"
    );
    assert_eq!(
        owner_retiring_object("ami-usage", OWNER, "eu-west-1"),
        retiring_object("ami-usage/account=123456789012", "eu-west-1")
    );
    let list = RetiringList {
        schema_version: 1,
        owner_account_id: OWNER.into(),
        region: "eu-west-1".into(),
        images: retiring(&[("ami-1", "disabled")]).into_values().collect(),
    };
    let bytes = serde_json::to_vec(&list).unwrap();
    assert_eq!(decode_retiring(&bytes, OWNER).unwrap(), list);
    assert!(decode_retiring(&bytes, "999999999999").unwrap_err().to_string().contains("names owner"));
    assert!(decode_retiring(b"{", OWNER).is_err());
}

fn settings(state: &str, criteria: &[(&[&str], Option<i64>)]) -> AllowedImages {
    AllowedImages {
        state: state.into(),
        managed_by: Some("account".into()),
        criteria: criteria
            .iter()
            .map(|(p, d)| ImageCriterion {
                image_providers: p.iter().map(|s| s.to_string()).collect(),
                max_days_since_deprecated: *d,
            })
            .collect(),
    }
}

#[test]
fn deprecation_blocks_launches_only_where_allowed_amis_is_enabled_and_every_criterion_that_could_allow_it_refuses_it() {
    assert_eq!(settings("enabled", &[(&[OWNER], Some(0))]).deprecation_blocks_after(OWNER), Some(0));
    assert_eq!(settings("enabled", &[(&[], Some(0)), (&[OWNER], Some(14))]).deprecation_blocks_after(OWNER), Some(14));
    assert_eq!(settings("audit-mode", &[(&[OWNER], Some(0))]).deprecation_blocks_after(OWNER), None);
    assert_eq!(settings("disabled", &[]).deprecation_blocks_after(OWNER), None);
    assert_eq!(
        settings("enabled", &[(&[OWNER], Some(0)), (&[], None)]).deprecation_blocks_after(OWNER),
        None,
        "a criterion without the condition allows it"
    );
    assert_eq!(
        settings("enabled", &[(&[OWNER], Some(0)), (&["amazon"], None)]).deprecation_blocks_after(OWNER),
        Some(0),
        "amazon's criterion cannot allow it"
    );

    let seen = BTreeMap::from([
        ("111111111111".to_string(), 1),
        ("222222222222".to_string(), 1),
        ("333333333333".to_string(), 1),
    ]);
    let allowed = BTreeMap::from([
        ("111111111111".to_string(), settings("enabled", &[(&[OWNER], Some(0))])),
        ("222222222222".to_string(), settings("enabled", &[(&[], Some(7))])),
        ("333333333333".to_string(), settings("audit-mode", &[(&[], Some(0))])),
        ("444444444444".to_string(), settings("enabled", &[(&[], Some(0))])),
    ]);
    assert_eq!(deprecation_blocks_in(OWNER, &seen, &allowed), ["111111111111", "222222222222 (+7 days)"]);
}

#[test]
fn a_launch_template_scan_reads_the_newest_versions_to_the_depth() {
    assert_eq!(version_range(30, 10), (21, 30));
    assert_eq!(version_range(3, 10), (1, 3));
    assert_eq!(version_range(5, 0), (5, 5), "a depth of 0 still reads the newest");
    assert_eq!(
        launch_template_arn("eu-west-1", "111111111111", "lt-1"),
        "arn:aws:ec2:eu-west-1:111111111111:launch-template/lt-1"
    );
    assert!(launch_template_arn("cn-north-1", "1", "lt-1").starts_with("arn:aws-cn:"));
}

#[test]
fn scans_check_every_probe_kind_but_instances() {
    assert_eq!(PROBE_KINDS[0], "ec2:Instance");
    assert!(!SCAN_KINDS.contains(&"ec2:Instance"));
    assert_eq!(SCAN_KINDS.len() + 1, PROBE_KINDS.len());
}

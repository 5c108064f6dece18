use super::*;
use crate::archive::jsonl;
use crate::fixtures::t;

const MEMBER: &str = "111111111111";
const OTHER: &str = "222222222222";
const OWNER: &str = "123456789012";

fn run(account: &str) -> ProbeRun {
    ProbeRun { account_id: account.into(), region: "eu-west-1".into(), probed_at: t("2026-12-01T06:00:00.250Z") }
}

fn reference(arn: &str) -> OwnerReference {
    OwnerReference { resource_type: "ssm:Parameter".into(), arn: arn.into() }
}

fn rows_of(account: &str) -> Vec<ReferenceRow> {
    let images = BTreeMap::from([
        ("ami-1".to_string(), ProbedImage::described(OWNER)),
        ("ami-2".to_string(), ProbedImage::described(OWNER)),
    ]);
    let arn = format!("arn:aws:ssm:eu-west-1:{account}:parameter/golden");
    let found = BTreeMap::from([("ami-1".to_string(), vec![reference(&arn), reference(&arn)])]);
    probe_rows(&run(account), &images, &found, None)
}

#[test]
fn a_probe_row_per_image_seen_says_what_was_checked_and_found() {
    let rows = rows_of(MEMBER);
    let j: Vec<serde_json::Value> = rows.iter().map(|r| serde_json::to_value(r).unwrap()).collect();
    assert_eq!(j[0]["probed_at"], "2026-12-01T06:00:00.250Z");
    assert_eq!(j[0]["probe_account_id"], MEMBER);
    assert_eq!(j[0]["owner_account_id"], OWNER);
    assert_eq!(j[0]["checked"].as_array().unwrap().len(), PROBE_KINDS.len());
    assert_eq!(
        j[0]["references"],
        serde_json::json!([{"resource_type": "ssm:Parameter", "arn": format!("arn:aws:ssm:eu-west-1:{MEMBER}:parameter/golden")}])
    );
    assert_eq!(j[1]["image_id"], "ami-2");
    assert_eq!(j[1]["references"], serde_json::json!([]), "probed, nothing found");
    assert_eq!(
        references_object("ami-usage/account=111111111111", "eu-west-1", run(MEMBER).probed_at),
        "ami-usage/account=111111111111/references/region=eu-west-1/report_date=2026-12-01/run-20261201T060000.250Z.json.gz"
    );
}

#[test]
fn the_owner_finds_members_next_to_its_own_prefix_in_organisation_mode_only() {
    assert_eq!(org_prefix_of("ami-usage/account=123456789012"), Some("ami-usage"));
    assert_eq!(org_prefix_of("a/b/account=123456789012"), Some("a/b"));
    assert_eq!(org_prefix_of("ami-usage"), None);
    assert_eq!(org_prefix_of("ami-usage/account=12345"), None);
    assert_eq!(org_prefix_of("ami-usage/team=123456789012"), None);
    let prefix = member_prefix("ami-usage", MEMBER, "eu-west-1");
    assert_eq!(prefix, "ami-usage/account=111111111111/references/region=eu-west-1/");
    let after = fresh_start_after(&prefix, t("2026-12-03T01:00:00Z"), Duration::hours(48));
    assert!(after.as_str() < "ami-usage/account=111111111111/references/region=eu-west-1/report_date=2026-12-01/run-x");
    assert!(after.as_str() > "ami-usage/account=111111111111/references/region=eu-west-1/report_date=2026-11-30/run-x");
}

#[test]
fn only_fresh_probe_objects_are_read_newest_first() {
    let key = |time: &str| (format!("p/report_date=x/run-{time}.json.gz"), 100);
    let keys = vec![
        key("20261201T060000.000Z"),
        key("20261202T060000.000Z"),
        key("20261128T060000.000Z"),
        key("20261204T060000.000Z"),
        ("p/report_date=x/notes.txt".to_string(), 100),
    ];
    let fresh = fresh_objects(&keys, t("2026-12-03T01:00:00Z"), Duration::hours(48));
    assert_eq!(fresh.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), [&keys[1].0, &keys[0].0]);
    assert_eq!(fresh[0].probed_at, t("2026-12-02T06:00:00Z"));
    assert_eq!(check_size(&fresh[0]), Ok(()));
    let huge = ListedObject { size: MAX_OBJECT_BYTES + 1, ..fresh[0].clone() };
    assert!(matches!(check_size(&huge), Err(Ignored::Malformed(_))));
}

#[test]
fn an_object_is_a_members_facts_only_if_well_formed_and_its_own() {
    let at = run(MEMBER).probed_at;
    let bytes = jsonl::encode(&rows_of(MEMBER)).unwrap();
    let facts = accept_object(MEMBER, at, decode_rows(&bytes)).unwrap();
    assert_eq!(facts.images.len(), 2);
    assert_eq!(
        accept_object(MEMBER, at, jsonl::decode(&jsonl::encode::<ReferenceRow>(&[]).unwrap())).unwrap().images.len(),
        0,
        "probed, no shared AMI"
    );

    assert_eq!(accept_object(OTHER, at, jsonl::decode(&bytes)), Err(Ignored::ForeignAccount(MEMBER.into())));
    assert!(matches!(accept_object(MEMBER, at, jsonl::decode(b"not gzip")), Err(Ignored::Malformed(_))));
    let not_rows = jsonl::encode(&[serde_json::json!({"image_id": "ami-1"})]).unwrap();
    assert!(matches!(accept_object(MEMBER, at, jsonl::decode(&not_rows)), Err(Ignored::Malformed(_))));
    let later = t("2026-12-01T07:00:00Z");
    assert!(matches!(accept_object(MEMBER, later, jsonl::decode(&bytes)), Err(Ignored::Malformed(_))));
}

#[test]
fn findings_name_the_references_the_covering_and_the_missing_members() {
    let required = vec![MEMBER.to_string(), OTHER.to_string()];
    let at = run(MEMBER).probed_at;
    let member = accept_object(MEMBER, at, Ok(rows_of(MEMBER))).unwrap();
    let only_member = BTreeMap::from([(MEMBER.to_string(), member.clone())]);
    let f = findings_for("ami-1", &required, &only_member, &MemberMemory::default(), at);
    assert_eq!(f.references, [format!("arn:aws:ssm:eu-west-1:{MEMBER}:parameter/golden")]);
    assert_eq!((f.covered_by, f.missing), (vec![MEMBER.to_string()], vec![OTHER.to_string()]));
    assert!(f.kinds_all_covered.is_empty(), "one required member has no facts");

    let other = accept_object(OTHER, at, Ok(rows_of(OTHER))).unwrap();
    let both = BTreeMap::from([(MEMBER.to_string(), member), (OTHER.to_string(), other)]);
    let f = findings_for("ami-2", &required, &both, &MemberMemory::default(), at);
    assert!(f.references.is_empty() && f.missing.is_empty());
    assert_eq!(f.kinds_all_covered, PROBE_KINDS);
    let unseen = findings_for("ami-9", &required, &both, &MemberMemory::default(), at);
    assert!(unseen.covered_by.is_empty() && unseen.missing.is_empty() && unseen.kinds_all_covered.is_empty());
    assert_eq!(findings_for("ami-1", &[], &both, &MemberMemory::default(), at), MemberFindings::default());
    // Facts of an account outside REQUIRE_MEMBER_PROBES never count, even with references.
    let only_member_required = findings_for("ami-1", &[OTHER.to_string()], &only_member, &MemberMemory::default(), at);
    assert!(only_member_required.references.is_empty() && only_member_required.missing == [OTHER]);
}

#[test]
fn a_facts_object_that_decompresses_past_the_bound_is_refused_whole() {
    let rows = jsonl::encode(&rows_of(MEMBER)).unwrap();
    assert_eq!(decode_rows(&rows).unwrap(), rows_of(MEMBER));
    let text_len =
        jsonl::decode::<serde_json::Value>(&rows).unwrap().iter().map(|r| r.to_string().len() + 1).sum::<usize>();
    assert_eq!(decode_rows_within(&rows, text_len as u64).unwrap().len(), 2, "exactly at the bound");
    let e = decode_rows_within(&rows, text_len as u64 - 1).unwrap_err().to_string();
    assert!(e.contains("decompressed"), "{e}");
}

#[test]
fn a_missing_member_holds_back_only_the_amis_it_can_see() {
    let perms = |accounts: &[&str], public: bool, org: bool| LaunchPermissions {
        accounts: accounts.iter().map(|a| a.to_string()).collect(),
        organizations: if org { vec!["arn:aws:organizations::123456789012:organization/o-1".into()] } else { vec![] },
        public,
        ..Default::default()
    };
    let missing = || MemberFindings { missing: vec![MEMBER.into(), OTHER.into()], ..Default::default() };
    let scoped = |p: &LaunchPermissions, disabled: bool| {
        let mut f = missing();
        scope_missing(&mut f, p, disabled);
        f.missing
    };
    assert_eq!(scoped(&perms(&[MEMBER], false, false), false), [MEMBER]);
    assert!(scoped(&perms(&[], false, false), false).is_empty(), "shared with nobody: nobody holds it");
    assert_eq!(scoped(&perms(&[], true, false), false), [MEMBER, OTHER], "public");
    assert_eq!(scoped(&perms(&[], false, true), false), [MEMBER, OTHER], "organisation: every member");
    let ou = LaunchPermissions { organizational_units: vec!["arn:ou".into()], ..Default::default() };
    assert_eq!(scoped(&ou, false), [MEMBER, OTHER], "OU: every member, without an Organizations lookup");
    assert_eq!(scoped(&perms(&[], false, false), true), [MEMBER, OTHER], "disabled: its sharing was removed");
}

#[test]
fn only_amis_held_by_a_missing_member_are_looked_up_and_at_most_the_bound() {
    use crate::verdict::{Kind, Verdict};
    let mut verdicts: Vec<Verdict> = (0..MAX_VISIBILITY_LOOKUPS + 5)
        .map(|i| Verdict::for_test(&format!("ami-{i:04}"), Kind::Unknown, &[Reason::MemberProbeMissing]))
        .collect();
    verdicts.push(Verdict::for_test("ami-x", Kind::Unknown, &[Reason::EvidenceStale]));
    let due = visibility_lookups_due(&Verdicts { verdicts, breaker: None });
    assert_eq!(due.len(), MAX_VISIBILITY_LOOKUPS);
    assert!(!due.contains(&"ami-x".to_string()));
}

#[test]
fn rows_say_whether_the_ami_was_described_its_retirement_stage_and_the_allowed_amis_settings() {
    let hidden = ProbedImage {
        owner: OWNER.into(),
        described: false,
        retirement_stage: Some("disabled".into()),
        checked: vec!["ssm:Parameter".into()],
    };
    let allowed = AllowedImages { state: "enabled".into(), ..Default::default() };
    let rows =
        probe_rows(&run(MEMBER), &BTreeMap::from([("ami-1".to_string(), hidden)]), &BTreeMap::new(), Some(&allowed));
    let j = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(
        (j["described"].clone(), j["retirement_stage"].clone()),
        (serde_json::json!(false), serde_json::json!("disabled"))
    );
    assert_eq!(j["allowed_images"]["state"], "enabled");
    assert_eq!(j["checked"], serde_json::json!(["ssm:Parameter"]));
    let facts = accept_object(MEMBER, run(MEMBER).probed_at, Ok(rows)).unwrap();
    assert_eq!(facts.allowed_images, Some(allowed));

    let mut earlier = serde_json::to_value(&rows_of(MEMBER)[0]).unwrap();
    for field in ["described", "retirement_stage", "allowed_images"] {
        earlier.as_object_mut().unwrap().remove(field);
    }
    let loaded: ReferenceRow = serde_json::from_value(earlier).unwrap();
    assert!(loaded.described && loaded.retirement_stage.is_none() && loaded.allowed_images.is_none());
}

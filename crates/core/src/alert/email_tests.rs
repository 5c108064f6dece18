use super::*;
use crate::alert::render;
use crate::fixtures::t;
use crate::state::ErrorStreak;
use serde_json::json;

/// The context every alert test renders in (also the retirement section's tests).
pub(crate) fn ctx() -> AlertContext {
    AlertContext {
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
        now: t("2026-11-22T10:00:00Z"),
        snapshot_gb_month_usd: 0.05,
        athena_database: "ami_usage".into(),
        athena_workgroup: "ami-usage".into(),
        archive_location: "s3://bucket/ami-usage".into(),
        team: None,
    }
}

fn standing(still_unused: usize) -> Standing {
    Standing { still_unused, failing: vec![] }
}

fn golden_standing() -> Standing {
    let streak = ErrorStreak {
        since: t("2026-11-10T00:00:00Z"),
        last: t("2026-11-21T00:00:00Z"),
        reason: Some("InternalError: report failed".into()),
        reports: 12,
    };
    Standing { still_unused: 2, failing: vec![("ami-6".into(), streak)] }
}

fn candidate(i: usize) -> News {
    News::Candidate {
        image_id: format!("ami-{i:017x}"),
        name: format!("golden-al2023-{i}"),
        image_created: Some(t("2026-09-01T00:00:00Z")),
        unused_since: t("2026-11-12T00:00:00Z"),
        snapshot_size_gib: 30,
        has_billing_codes: i % 2 == 1,
        reasons: vec!["unused_for_window".into(), "no_owner_account_use".into(), "older_than_min_age".into()],
        not_checked: vec!["member:ssm:Parameter".into()],
        deregistration_protected: i == 1,
    }
}

fn golden_news() -> Vec<News> {
    vec![
        candidate(1),
        News::UsedAgain {
            image_id: "ami-2".into(),
            name: "golden-old".into(),
            total_usage: 4,
            reasons: vec!["used_in_other_accounts".into()],
        },
        News::ReportError {
            report_id: "amiur-3".into(),
            image_id: "ami-3".into(),
            reason: Some("Internal\u{7}error".into()),
            since: Some(t("2026-11-21T00:00:00Z")),
        },
        News::PendingTooLong {
            report_id: "amiur-4".into(),
            image_id: "ami-4".into(),
            created: t("2026-11-20T00:00:00Z"),
        },
        News::ExpiringUnarchived {
            report_id: "amiur-5".into(),
            image_id: "ami-5".into(),
            state: "pending".into(),
            expires: t("2026-11-25T00:00:00Z"),
        },
        News::CandidatesWithheld {
            withheld: 12,
            selected: 20,
            limit_percent: 50,
            day: t("2026-11-22T00:00:00Z").date_naive(),
        },
        News::EvidenceStale {
            image_id: "ami-7".into(),
            name: "golden-stale".into(),
            candidate_since: t("2026-11-01T00:00:00Z"),
            newest_zero_report: Some(t("2026-11-19T00:00:00Z")),
            member_probe_missing: false,
        },
        News::NoRecentReport { image_id: "ami-8".into(), name: "golden-refused".into(), newest_report: None },
    ]
}

#[test]
fn email_golden() {
    let a = render(&golden_news(), &golden_standing(), &ctx());
    let expected = "\
AMI usage alert for account 123456789012 in eu-west-1 at 2026-11-22 10:00 UTC

12 candidates withheld, 1 new deregistration candidates, 2 still unused, 1 used again, 1 reports in error, 1 pending too long, 1 expiring unarchived

CANDIDATE LIST WITHHELD (circuit breaker)
- 12 of 20 selected AMIs look unused, more than MAX_CANDIDATE_PERCENT=50%: something is off (a report that is wrong, an AMI_TAG_FILTERS that selects too much?). No candidate is recommended until that is understood.

NEW DEREGISTRATION CANDIDATES (no usage in any account or resource type for the whole window, none in this account)
- ami-00000000000000001  golden-al2023-1
    age 82 days, no usage since 2026-11-12 (10 days), snapshots 30 GiB = at most $1.50/month (upper bound: snapshots are billed incrementally)
    reasons: unused_for_window, no_owner_account_use, older_than_min_age
    ! carries billing products / product codes: an AMI re-registered from its snapshot loses them
    ! deregistration protection is on: DeregisterImage fails until it is turned off
    not checked: member:ssm:Parameter
Reports may miss the last 24 h of instance launches: deregister with a grace period (EC2 can restore a deregistered AMI from the Recycle Bin if a retention rule exists).

USED AGAIN (do not deregister)
- ami-2  golden-old: used_in_other_accounts (4 uses in other accounts in the latest report)

CANDIDATES NO LONGER CONFIRMED (evidence stale: do not deregister)
- ami-7  golden-stale: newest zero-usage report 2026-11-19T00:00:00.000Z; unknown until a fresh report confirms it (do not deregister on the earlier alert)

AMIS WITHOUT NEW REPORTS (their verdicts stay unknown)
- ami-8  golden-refused: no report yet (creates refused or failing, or the create schedule stopped: see the create run's summary)

REPORTS IN ERROR
- amiur-3 (ami-3): Internalerror (announced once; the AMI stays unknown while its reports fail)

REPORTS PENDING TOO LONG
- amiur-4 (ami-4): pending since 2026-11-20T00:00:00.000Z

REPORTS EXPIRING BEFORE THEY WERE ARCHIVED
- amiur-5 (ami-5): pending, EC2 deletes it at 2026-11-25T00:00:00.000Z

REPORTS STILL FAILING (announced when each streak began)
- ami-6: failing since 2026-11-10 (12 days, 12 reports): InternalError: report failed

Athena (workgroup ami-usage, database ami_usage), every current candidate with its reasons: the saved query unused_amis, or SELECT * FROM ami_usage.verdicts WHERE report_date = '2026-11-22' AND region = 'eu-west-1' AND owner_account_id = '123456789012' AND verdict = 'candidate' AND evaluated_at = (SELECT max(evaluated_at) FROM ami_usage.verdicts WHERE report_date = '2026-11-22' AND region = 'eu-west-1' AND owner_account_id = '123456789012')
Archive: s3://bucket/ami-usage
";
    assert_eq!(a.email, expected);
    assert_eq!(
            a.subject,
            "AMI usage eu-west-1: 12 candidates withheld, 1 deregistration candidate, 1 used again, 1 report error, 1 pending too long"
                .chars()
                .take(96)
                .collect::<String>()
                + "..."
        );
}

#[test]
fn chat_golden_is_a_chatbot_custom_notification() {
    let a = render(&golden_news(), &golden_standing(), &ctx());
    let v: serde_json::Value = serde_json::from_str(&a.chat).unwrap();
    assert_eq!(v["version"], "1.0");
    assert_eq!(v["source"], "custom");
    assert_eq!(v["content"]["textType"], "client-markdown");
    assert_eq!(v["content"]["title"], format!(":mag: {}", a.subject));
    let expected_description = "\
*12 candidates withheld, 1 new deregistration candidates, 2 still unused, 1 used again, 1 reports in error, 1 pending too long, 1 expiring unarchived*
1 AMI's reports still failing (see the e-mail)
*Candidate list withheld (circuit breaker)*
• 12 of 20 selected AMIs look unused, more than MAX_CANDIDATE_PERCENT=50%: something is off (a report that is wrong, an AMI_TAG_FILTERS that selects too much?). No candidate is recommended until that is understood.
*New deregistration candidates*
• `ami-00000000000000001` golden-al2023-1 — unused 10 days, ≤ $1.50/month — :warning: billing codes — :lock: deregistration protection on
*Used again (do not deregister)*
• ami-2  golden-old: used_in_other_accounts (4 uses in other accounts in the latest report)
*Reports in error*
• amiur-3 (ami-3): Internalerror (announced once; the AMI stays unknown while its reports fail)
*Pending too long*
• amiur-4 (ami-4): pending since 2026-11-20T00:00:00.000Z
*Expiring unarchived*
• amiur-5 (ami-5): pending, EC2 deletes it at 2026-11-25T00:00:00.000Z
*No longer confirmed (do not deregister)*
• ami-7  golden-stale: newest zero-usage report 2026-11-19T00:00:00.000Z; unknown until a fresh report confirms it (do not deregister on the earlier alert)
*Without new reports*
• ami-8  golden-refused: no report yet (creates refused or failing, or the create schedule stopped: see the create run's summary)";
    assert_eq!(v["content"]["description"], expected_description);
    assert_eq!(v["metadata"]["relatedResources"], json!(["ami-00000000000000001", "ami-2", "ami-7"]));
    let msg: serde_json::Value = serde_json::from_str(&a.sns_message()).unwrap();
    assert_eq!(msg["default"], a.chat);
    assert_eq!(msg["email"], a.email);
}

#[test]
fn subject_is_short_ascii_without_control_characters() {
    let news = vec![candidate(1)];
    let mut c = ctx();
    c.region = "eu-west-1\n".into();
    let s = subject(&news, &c);
    assert!(s.len() < 100);
    assert!(s.chars().all(|ch| ch.is_ascii() && !ch.is_ascii_control()), "{s:?}");
    assert_eq!(s, "AMI usage eu-west-1: 1 deregistration candidate");
}

#[test]
fn five_thousand_candidates_fit_in_one_sns_message() {
    let news: Vec<News> = (0..5000).map(candidate).collect();
    let a = render(&news, &standing(0), &ctx());
    let msg = a.sns_message();
    assert!(msg.len() <= 256 * 1024, "{} bytes", msg.len());
    assert!(a.email.contains("... and "), "the list must be cut");
    assert!(
        a.email.contains(
            "the saved query unused_amis, or SELECT * FROM ami_usage.verdicts WHERE report_date = '2026-11-22'"
        )
    );
    let listed = a.email.lines().filter(|l| l.starts_with("- ami-")).count();
    let more: usize =
        a.email.lines().find_map(|l| l.strip_prefix("... and ")?.split(' ').next()?.parse().ok()).unwrap();
    assert_eq!(listed + more, 5000);
    let chat: serde_json::Value = serde_json::from_str(&a.chat).unwrap();
    assert!(chat["content"]["description"].as_str().unwrap().contains("… and 4990 more"));
}

#[test]
fn a_candidate_left_without_member_probe_facts_says_so_in_the_email() {
    let news = [News::EvidenceStale {
        image_id: "ami-9".into(),
        name: "golden-member".into(),
        candidate_since: t("2026-11-01T00:00:00Z"),
        newest_zero_report: Some(t("2026-11-21T00:00:00Z")),
        member_probe_missing: true,
    }];
    let a = render(&news, &Standing::default(), &ctx());
    assert!(a.email.contains("CANDIDATES NO LONGER CONFIRMED"), "{}", a.email);
    assert!(
        a.email.contains("- ami-9  golden-member: a required member account's probe facts are missing or stale"),
        "{}",
        a.email
    );
}

#[test]
fn a_team_message_names_its_team_in_the_subject_and_the_first_line() {
    let ctx = AlertContext { team: Some("payments\n".into()), ..ctx() };
    let a = render(&golden_news()[1..2], &Standing::default(), &ctx);
    assert!(a.subject.starts_with("AMI usage eu-west-1 [payments]: "), "{}", a.subject);
    assert!(
        a.email.starts_with(
            "AMI usage alert for account 123456789012 in eu-west-1 at 2026-11-22 10:00 UTC, team payments\n"
        )
    );
}

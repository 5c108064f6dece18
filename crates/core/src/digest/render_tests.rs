use super::*;
use crate::digest::DigestCandidate;
use crate::digest::compute::tests::{ctx as digest_ctx, ri_row};
use crate::digest::compute::{DigestInput, digest};
use crate::digest::ri::RiPeriod;
use crate::fixtures::digest::{report, team_reports, week_verdicts};

fn render_ctx(list_limit: usize) -> DigestRenderContext {
    DigestRenderContext {
        athena_database: "ami_usage".into(),
        athena_workgroup: "aur-ami-usage".into(),
        archive_location: "s3://archive/ami-usage".into(),
        list_limit,
        ri_alert_percent: 80,
    }
}

fn golden_part() -> ReservationsPart {
    ReservationsPart::Collected {
        rows: vec![
            ri_row(RiPeriod::Last7Days, "sub-fine", 95.0, "2027-06-01T00:00:00Z"),
            ri_row(RiPeriod::Last7Days, "sub-ending", 100.0, "2026-12-10T00:00:00Z"),
            ri_row(RiPeriod::Last7Days, "sub-low", 40.0, "2027-06-01T00:00:00Z"),
            ri_row(RiPeriod::MonthToDate, "sub-low", 55.0, "2027-06-01T00:00:00Z"),
        ],
        complete: true,
    }
}

fn golden_row(part: &ReservationsPart) -> DigestRow {
    let reports = vec![report("amiur-4", "ami-x", "error", "2026-11-27T01:00:00Z", 0)];
    digest(&DigestInput { verdicts: &week_verdicts(), reports: &reports, reservations: part }, &digest_ctx())
}

const WHERE: &str = "report_date = '2026-11-30' AND region = 'eu-west-1' AND owner_account_id = '123456789012'";

#[test]
fn email_golden() {
    let part = golden_part();
    let a = render(&golden_row(&part), &part, &render_ctx(1));
    assert_eq!(
        a.subject,
        "AMI digest eu-west-1 2026-11-30: 2 candidates $6.00/mo, 2 used again, 1 report problems, 1 RIs <80%"
    );
    let expected = format!("\
AMI usage weekly digest for account 123456789012 in eu-west-1, 2026-11-23 08:00 to 2026-11-30 08:00 UTC

- 2 deregistration candidates (1 new this week), snapshots at most $6.00/month (upper bound: snapshots are billed incrementally)
- 2 former candidates used again this week
- 0 older versions of a family still used by some account
- 1 report in error this week
- Reserved Instances: 3 reservations, 1 under 80% utilization, 1 ending within 30 days

DEREGISTRATION CANDIDATES (new first, then by snapshot size)
- ami-new  ami-new-name [new]: unused 35 days, snapshots 20 GiB = at most $1.00/month, family app
… and 1 more: SELECT item.* FROM ami_usage.digests CROSS JOIN UNNEST(candidates) AS t(item) WHERE {WHERE}

USED AGAIN THIS WEEK (do not deregister)
- ami-back  ami-back-name: used_in_other_accounts (4 uses in the latest report)
… and 1 more: SELECT item.* FROM ami_usage.digests CROSS JOIN UNNEST(used_again_amis) AS t(item) WHERE {WHERE}

FAMILIES: OLDER VERSIONS STILL IN USE (migration nudge)
- app: ami-new  ami-new-name: no report this week; newest is app-v2
… and 1 more: SELECT item.* FROM ami_usage.digests CROSS JOIN UNNEST(families) AS t(item) WHERE {WHERE}

REPORT PROBLEMS THIS WEEK
- amiur-4 (ami-x ami-x-name) 2026-11-27: Internal error

RESERVED INSTANCES (under threshold first, then ending soon)
- sub-low m5.large x2 in eu-west-1, account 111122223333 (payments): 40.0% used over the last 7 days, 55.0% month to date, 202 unused hours, net RI savings $12.50, ends 2027-06-01 [under threshold]
… and 2 more: SELECT * FROM ami_usage.ri_utilization WHERE {WHERE} ORDER BY period, utilization_percentage

Athena (workgroup aur-ami-usage): SELECT * FROM ami_usage.digests WHERE {WHERE}
Archive: s3://archive/ami-usage
Generated at 2026-11-30T08:00:00.000Z
");
    assert_eq!(a.email, expected);
}

#[test]
fn email_lists_everything_up_to_the_limit_in_order() {
    let part = golden_part();
    let a = render(&golden_row(&part), &part, &render_ctx(20));
    assert!(!a.email.contains("… and"), "{}", a.email);
    let order: Vec<usize> =
        ["- sub-low", "- sub-ending", "- sub-fine"].iter().map(|s| a.email.find(s).expect(s)).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "under threshold, then ending soon, then the rest");
    assert!(a.email.contains("ends 2026-12-10 [ending soon]"));
    assert!(a.email.contains("- app: app-v1  app-v1-name: no report this week; newest is app-v2"));
}

#[test]
fn chat_golden_is_a_chatbot_custom_notification() {
    let part = golden_part();
    let a = render(&golden_row(&part), &part, &render_ctx(20));
    let v: serde_json::Value = serde_json::from_str(&a.chat).unwrap();
    assert_eq!((v["version"].as_str(), v["source"].as_str()), (Some("1.0"), Some("custom")));
    assert_eq!(v["content"]["textType"], "client-markdown");
    assert_eq!(v["content"]["title"], format!(":bar_chart: {}", a.subject));
    assert_eq!(v["metadata"]["eventType"], "AmiUsageDigest");
    assert_eq!(v["metadata"]["relatedResources"], serde_json::json!(["ami-new", "ami-old"]));
    let expected = "\
• 2 deregistration candidates (1 new this week), snapshots at most $6.00/month (upper bound: snapshots are billed incrementally)
• 2 former candidates used again this week
• 0 older versions of a family still used by some account
• 1 report in error this week
• Reserved Instances: 3 reservations, 1 under 80% utilization, 1 ending within 30 days
*Deregistration candidates*
• ami-new  ami-new-name [new]: unused 35 days, snapshots 20 GiB = at most $1.00/month, family app
• ami-old  ami-old-name: unused 35 days, snapshots 100 GiB = at most $5.00/month
*Used again (do not deregister)*
• ami-back  ami-back-name: used_in_other_accounts (4 uses in the latest report)
• ami-flip  ami-flip-name: used_in_other_accounts (4 uses in the latest report)
*Older versions still in use*
• app: ami-new  ami-new-name: no report this week; newest is app-v2
• app: app-v1  app-v1-name: no report this week; newest is app-v2
*Report problems*
• amiur-4 (ami-x ami-x-name) 2026-11-27: Internal error
*Reserved Instances*
• sub-low m5.large x2 in eu-west-1, account 111122223333 (payments): 40.0% used over the last 7 days, 55.0% month to date, 202 unused hours, net RI savings $12.50, ends 2027-06-01 [under threshold]
• sub-ending m5.large x2 in eu-west-1, account 111122223333 (payments): 100.0% used over the last 7 days, ? month to date, 0 unused hours, net RI savings $12.50, ends 2026-12-10 [ending soon]
• sub-fine m5.large x2 in eu-west-1, account 111122223333 (payments): 95.0% used over the last 7 days, ? month to date, 17 unused hours, net RI savings $12.50, ends 2027-06-01";
    assert_eq!(v["content"]["description"], expected);
}

#[test]
fn reservations_off_or_refused_is_one_line_and_no_list() {
    let off = ReservationsPart::Off;
    let a = render(&golden_row(&off), &off, &render_ctx(20));
    assert!(a.email.contains("- Reserved Instances: not part of this digest (DIGEST_RESERVATIONS=off)\n"));
    let mut lone = golden_row(&off);
    (lone.families, lone.counts.candidates_standing) = (vec![], 1);
    let a = render(&lone, &off, &render_ctx(20));
    assert!(a.email.contains("- no older family versions (GROUP_TAG groups AMIs into families)\n"), "{}", a.email);
    assert!(a.subject.contains(": 1 candidate $6.00/mo,"), "{}", a.subject);
    assert!(!a.email.contains("RESERVED INSTANCES"));
    let refused = ReservationsPart::NoAccess("AccessDeniedException".into());
    let a = render(&golden_row(&refused), &refused, &render_ctx(20));
    assert!(a.email.contains(
        "- Reserved Instances: Cost Explorer is not available to this account (AccessDeniedException); see deploy/ORGANIZATION.md\n"
    ));
    let partial = ReservationsPart::Collected { rows: vec![], complete: false };
    let a = render(&golden_row(&partial), &partial, &render_ctx(20));
    assert!(a.email.contains("paging stopped at the call cap"));
}

#[test]
fn a_huge_digest_stays_under_snss_limits_and_says_how_many_more() {
    let part = ReservationsPart::Off;
    let mut row = golden_row(&part);
    let template = row.candidates[0].clone();
    row.candidates = (0..20_000)
        .map(|i| DigestCandidate { image_id: format!("ami-{i:017}"), name: "n\u{7}".repeat(40), ..template.clone() })
        .collect();
    row.counts.candidates_standing = row.candidates.len();
    let a = render(&row, &part, &render_ctx(1000));
    assert!(a.sns_message().len() <= MAX_MESSAGE_BYTES, "{}", a.sns_message().len());
    assert!(a.email.contains("… and 19000 more: SELECT item.* FROM ami_usage.digests CROSS JOIN UNNEST(candidates)"));
    assert!(!a.email.contains('\u{7}') && !a.chat.contains("\\u0007"), "no control characters");
    let v: serde_json::Value = serde_json::from_str(&a.chat).unwrap();
    assert!(v["content"]["description"].as_str().unwrap().chars().count() <= 3500);
    assert!(a.subject.len() <= MAX_SUBJECT_CHARS && a.subject.is_ascii());
}

mod teams {
    use super::*;
    use crate::digest::compute::DigestContext;
    use crate::digest::teams::tests::team_ctx;
    use crate::digest::teams::{TeamNumbers, TeamSplit, split};

    fn team_split(part: &ReservationsPart, old_team: &str) -> TeamSplit {
        let mut reports = team_reports();
        reports[2].image.as_mut().unwrap().tags.insert("team".into(), old_team.into());
        let input = DigestInput { verdicts: &week_verdicts(), reports: &reports, reservations: part };
        let ctx: DigestContext = team_ctx();
        split(&digest(&input, &ctx), ctx.snapshot_gb_month_usd)
    }

    /// team-a's page; ami-old is team-a's too, so its candidates are cut at 1.
    fn team_page(limit: usize) -> Alert {
        let part = golden_part();
        let s = team_split(&part, "team-a");
        let (team, row) = &s.teams[0];
        render_page(row, &part, &render_ctx(limit), &Page::Team(team.clone()))
    }

    fn account_page(limit: usize) -> Alert {
        let part = golden_part();
        let s = team_split(&part, "team-b");
        render_page(&s.account, &part, &render_ctx(limit), &Page::Account(s.numbers))
    }

    #[test]
    fn team_page_email_golden() {
        let a = team_page(1);
        assert_eq!(
            a.subject,
            "AMI digest [team-a] eu-west-1 2026-11-30: 2 candidates $6.00/mo, 1 used again, 1 report problems"
        );
        let expected = "\
AMI usage weekly digest for team team-a, account 123456789012 in eu-west-1, 2026-11-23 08:00 to 2026-11-30 08:00 UTC

- 2 deregistration candidates (1 new this week), snapshots at most $6.00/month (upper bound: snapshots are billed incrementally)
- 1 former candidate used again this week
- 0 older versions of a family still used by some account
- 1 report in error this week
- Reserved Instances: in the account digest (reservations belong to the account)

DEREGISTRATION CANDIDATES (new first, then by snapshot size)
- ami-new  ami-new-name [new]: unused 35 days, snapshots 20 GiB = at most $1.00/month, family app
… and 1 more: SELECT item.* FROM ami_usage.digests CROSS JOIN UNNEST(candidates) AS t(item) WHERE report_date = '2026-11-30' AND region = 'eu-west-1' AND owner_account_id = '123456789012' AND item.team = 'team-a'

USED AGAIN THIS WEEK (do not deregister)
- ami-back  ami-back-name: used_in_other_accounts (4 uses in the latest report)

FAMILIES: OLDER VERSIONS STILL IN USE (migration nudge)
- app: ami-new  ami-new-name: still used by 0 accounts; newest is app-v2

REPORT PROBLEMS THIS WEEK
- amiur-6 (ami-x ami-x-name) 2026-11-27: Internal error

Athena (workgroup aur-ami-usage): SELECT * FROM ami_usage.digests WHERE report_date = '2026-11-30' AND region = 'eu-west-1' AND owner_account_id = '123456789012'
Archive: s3://archive/ami-usage
Generated at 2026-11-30T08:00:00.000Z
";
        assert_eq!(a.email, expected);
    }

    #[test]
    fn team_page_chat_golden() {
        let a = team_page(20);
        let v: serde_json::Value = serde_json::from_str(&a.chat).unwrap();
        assert_eq!(v["content"]["title"], format!(":bar_chart: {}", a.subject));
        assert_eq!(v["metadata"]["threadId"], "ami-usage-reporter-digest-123456789012-eu-west-1-team-a");
        assert_eq!(v["content"]["keywords"][4], "team-a");
        assert!(v["content"]["nextSteps"][0].as_str().unwrap().ends_with(" AND item.team = 'team-a'"));
        let expected = "\
• 2 deregistration candidates (1 new this week), snapshots at most $6.00/month (upper bound: snapshots are billed incrementally)
• 1 former candidate used again this week
• 0 older versions of a family still used by some account
• 1 report in error this week
• Reserved Instances: in the account digest (reservations belong to the account)
*Deregistration candidates*
• ami-new  ami-new-name [new]: unused 35 days, snapshots 20 GiB = at most $1.00/month, family app
• ami-old  ami-old-name: unused 35 days, snapshots 100 GiB = at most $5.00/month
*Used again (do not deregister)*
• ami-back  ami-back-name: used_in_other_accounts (4 uses in the latest report)
*Older versions still in use*
• app: ami-new  ami-new-name: still used by 0 accounts; newest is app-v2
*Report problems*
• amiur-6 (ami-x ami-x-name) 2026-11-27: Internal error";
        assert_eq!(v["content"]["description"], expected);
    }

    #[test]
    fn account_page_email_golden() {
        let a = account_page(1);
        assert_eq!(
            a.subject,
            "AMI digest eu-west-1 2026-11-30: 2 candidates $6.00/mo, 2 used again, 1 report problems, 1 RIs <80%"
        );
        let expected = "\
AMI usage weekly digest for account 123456789012 in eu-west-1, 2026-11-23 08:00 to 2026-11-30 08:00 UTC

- 2 deregistration candidates (1 new this week), snapshots at most $6.00/month (upper bound: snapshots are billed incrementally)
- 2 former candidates used again this week
- 1 older version of a family still used by some account
- 1 report in error this week
- Reserved Instances: 3 reservations, 1 under 80% utilization, 1 ending within 30 days
- 2 teams have their own digests (ROUTE_TAG): their items are listed there, not here

TEAMS (each has its own digest)
- team-a: 1 candidate (1 new), at most $1.00/month; 1 used again; 0 older versions still used; 1 report in error
… and 1 more: SELECT item.team, count(*) AS candidates, sum(item.snapshot_size_gib) AS gib FROM ami_usage.digests CROSS JOIN UNNEST(candidates) AS t(item) WHERE report_date = '2026-11-30' AND region = 'eu-west-1' AND owner_account_id = '123456789012' GROUP BY item.team ORDER BY item.team

USED AGAIN THIS WEEK (do not deregister), NOT IN A TEAM DIGEST
- ami-flip  ami-flip-name: used_in_other_accounts (4 uses in the latest report)

RESERVED INSTANCES (under threshold first, then ending soon)
- sub-low m5.large x2 in eu-west-1, account 111122223333 (payments): 40.0% used over the last 7 days, 55.0% month to date, 202 unused hours, net RI savings $12.50, ends 2027-06-01 [under threshold]
… and 2 more: SELECT * FROM ami_usage.ri_utilization WHERE report_date = '2026-11-30' AND region = 'eu-west-1' AND owner_account_id = '123456789012' ORDER BY period, utilization_percentage

Athena (workgroup aur-ami-usage): SELECT * FROM ami_usage.digests WHERE report_date = '2026-11-30' AND region = 'eu-west-1' AND owner_account_id = '123456789012'
Archive: s3://archive/ami-usage
Generated at 2026-11-30T08:00:00.000Z
";
        assert_eq!(a.email, expected);
    }

    #[test]
    fn account_page_chat_golden() {
        let a = account_page(20);
        let v: serde_json::Value = serde_json::from_str(&a.chat).unwrap();
        assert_eq!(v["metadata"]["threadId"], "ami-usage-reporter-digest-123456789012-eu-west-1");
        let every = v["content"]["nextSteps"][0].as_str().unwrap();
        assert!(every.ends_with(" AND (item.team IS NULL OR item.team NOT IN ('team-a', 'team-b'))"), "{every}");
        let expected = "\
• 2 deregistration candidates (1 new this week), snapshots at most $6.00/month (upper bound: snapshots are billed incrementally)
• 2 former candidates used again this week
• 1 older version of a family still used by some account
• 1 report in error this week
• Reserved Instances: 3 reservations, 1 under 80% utilization, 1 ending within 30 days
• 2 teams have their own digests (ROUTE_TAG): their items are listed there, not here
*Teams (each has its own digest)*
• team-a: 1 candidate (1 new), at most $1.00/month; 1 used again; 0 older versions still used; 1 report in error
• team-b: 1 candidate (0 new), at most $5.00/month; 0 used again; 1 older version still used; 0 reports in error
*Used again (do not deregister), NOT IN A TEAM DIGEST*
• ami-flip  ami-flip-name: used_in_other_accounts (4 uses in the latest report)
*Reserved Instances*
• sub-low m5.large x2 in eu-west-1, account 111122223333 (payments): 40.0% used over the last 7 days, 55.0% month to date, 202 unused hours, net RI savings $12.50, ends 2027-06-01 [under threshold]
• sub-ending m5.large x2 in eu-west-1, account 111122223333 (payments): 100.0% used over the last 7 days, ? month to date, 0 unused hours, net RI savings $12.50, ends 2026-12-10 [ending soon]
• sub-fine m5.large x2 in eu-west-1, account 111122223333 (payments): 95.0% used over the last 7 days, ? month to date, 17 unused hours, net RI savings $12.50, ends 2027-06-01";
        assert_eq!(v["content"]["description"], expected);
    }
    #[test]
    fn a_team_name_is_quoted_in_the_queries_and_cut_in_the_subject() {
        let part = ReservationsPart::Off;
        let (_, row) = team_split(&part, "team-a").teams.remove(0);
        let a = render_page(&row, &part, &render_ctx(1), &Page::Team("o'brien".into()));
        assert!(a.email.contains(" AND item.team = 'o''brien'\n"), "{}", a.email);
        let long = format!("team-{}\u{7}", "x".repeat(300));
        let a = render_page(&row, &part, &render_ctx(1), &Page::Team(long));
        assert!(
            a.subject.len() <= MAX_SUBJECT_CHARS && a.subject.is_ascii() && a.subject.starts_with("AMI digest [team-x")
        );
        assert!(!a.email.contains('\u{7}') && !a.chat.contains("\\u0007"), "no control characters");
    }

    #[test]
    fn a_huge_team_and_a_huge_account_page_stay_under_snss_limits() {
        let part = golden_part();
        let mut s = team_split(&part, "team-a");
        let template = s.teams[0].1.candidates[0].clone();
        let many = |team: Option<&str>| -> Vec<DigestCandidate> {
            (0..20_000)
                .map(|i| DigestCandidate {
                    image_id: format!("ami-{i:017}"),
                    team: team.map(str::to_string),
                    ..template.clone()
                })
                .collect()
        };
        s.teams[0].1.candidates = many(Some("team-a"));
        s.account.candidates = many(None);
        s.numbers = (0..2_000).map(|i| TeamNumbers { team: format!("team-{i:04}"), ..s.numbers[0].clone() }).collect();
        let team = render_page(&s.teams[0].1, &part, &render_ctx(1000), &Page::Team("team-a".into()));
        let account = render_page(&s.account, &part, &render_ctx(1000), &Page::Account(s.numbers.clone()));
        for a in [team, account] {
            assert!(a.sns_message().len() <= MAX_MESSAGE_BYTES, "{}", a.sns_message().len());
            assert!(a.email.contains("… and "), "cut with the query that lists all");
        }
    }

    #[test]
    fn an_account_page_without_teams_is_the_only_message() {
        let part = golden_part();
        let row = golden_row(&part);
        assert_eq!(
            render_page(&row, &part, &render_ctx(1), &Page::Account(vec![])),
            render(&row, &part, &render_ctx(1))
        );
    }
}

//! The digest split by `ROUTE_TAG` against a fake AWS: one message per team then the
//! account's, the progress saved after each, the digest object last; a refused publish
//! and a run dying before a progress save, and what their re-runs send.

use crate::aws::fake::{Answer, Call, Fake};
use crate::config::Config;
use crate::core::archive::jsonl;
use crate::core::digest::DigestRow;
use crate::core::fixtures::digest::team_reports;
use crate::jobs::PartialRun;
use crate::jobs::digest::run::tests::{Objects, archive, attributes, config, digest_run, world, writes};

const PROGRESS: &str = "ami-usage/state/region=us-east-1/digest-progress.json";

/// The fixtures' archive with the reports of two teams (and an untagged AMI).
fn team_archive() -> Objects {
    let objects = archive();
    {
        let mut objects = objects.lock().unwrap();
        objects.retain(|k, _| !k.contains("/reports/"));
        for mut report in team_reports() {
            report.region = "us-east-1".into();
            let day = report.report_creation_time.format("%Y-%m-%d");
            let key = format!("ami-usage/reports/region=us-east-1/report_date={day}/{}.json.gz", report.report_id);
            objects.insert(key, jsonl::encode(&[report]).unwrap());
        }
    }
    objects
}

fn teams() -> Config {
    config(|r| r.notify.route_tag = Some("team".into()))
}

/// The `team` attribute of each publish, in order (`-` for the account message).
fn published(fake: &Fake) -> Vec<String> {
    fake.calls()
        .iter()
        .filter(|c| c.service == "sns")
        .map(|c| attributes(c).get("team").map_or_else(|| "-".to_string(), |(_, v)| v.clone()))
        .collect()
}

fn message(fake: &Fake, team: &str) -> String {
    let calls = fake.calls();
    let call = calls
        .iter()
        .filter(|c| c.service == "sns")
        .find(|c| attributes(c).get("team").map_or("-", |(_, v)| v.as_str()) == team);
    call.and_then(|c| c.param("Message")).unwrap_or_default().to_string()
}

fn refusing(objects: Objects, refuse: impl Fn(&Call) -> bool + Send + Sync + 'static) -> Fake {
    world(objects, move |c| refuse(c).then(|| Answer::query_error(500, "InternalError")))
}

fn team_publish(c: &Call, team: &str) -> bool {
    c.service == "sns" && attributes(c).get("team").is_some_and(|(_, v)| v == team)
}

#[tokio::test]
async fn each_team_then_the_account_each_followed_by_its_progress_then_the_digest() {
    let objects = team_archive();
    let fake = world(objects.clone(), |_| None);
    let summary = digest_run(&fake, &teams()).await.unwrap();
    assert_eq!(published(&fake), ["team-a", "team-b", "-"]);
    let step = ["publish", "put state"];
    let claim = ["put state"];
    assert_eq!(writes(&fake), [&claim[..], &step[..], &step[..], &step[..], &["put digests"][..]].concat());
    assert_eq!(
        (summary.teams_published.clone(), summary.messages_published),
        (vec!["team-a".into(), "team-b".into()], 3)
    );
    assert!(summary.published && summary.subject.as_deref().unwrap().starts_with("AMI digest us-east-1 "));
    let calls = fake.calls();
    let sns: Vec<&Call> = calls.iter().filter(|c| c.service == "sns").collect();
    assert_eq!(attributes(sns[0])["group"].1, r#"["app"]"#);
    assert_eq!(attributes(sns[0])["kind"].1, r#"["digest"]"#);
    assert!(!attributes(sns[2]).contains_key("group"), "the account's items have no group");
    let (a, b, account) = (message(&fake, "team-a"), message(&fake, "team-b"), message(&fake, "-"));
    assert!(a.contains("ami-new") && a.contains("ami-back") && !a.contains("ami-old") && !a.contains("ami-flip"));
    assert!(b.contains("ami-old") && b.contains("app-v1") && !b.contains("ami-back"));
    assert!(account.contains("ami-flip") && !account.contains("ami-old  ") && !account.contains("ami-back  "));
    let stored = objects.lock().unwrap();
    let mut progress: serde_json::Value = serde_json::from_slice(&stored[PROGRESS]).unwrap();
    let writer = progress.as_object_mut().unwrap().remove("writer").expect("every state write names its writer");
    assert!(writer["run"].is_string() && writer["at"].is_string(), "{writer}");
    assert_eq!(progress, serde_json::json!({"digest_date": "2026-11-30", "published": ["team-a", "team-b", null]}));
    let rows: Vec<DigestRow> = jsonl::decode(&stored[summary.object.as_ref().unwrap()]).unwrap();
    assert_eq!(rows[0].candidates.len(), 2, "the archived row is the whole account's, teams included");
}

#[tokio::test]
async fn a_refused_second_publish_fails_the_run_and_a_rerun_sends_only_that_message() {
    let objects = team_archive();
    let fake = refusing(objects.clone(), |c| team_publish(c, "team-b"));
    let summary = digest_run(&fake, &teams()).await.unwrap();
    assert_eq!(published(&fake), ["team-a", "team-b", "-"], "the later messages are still tried");
    assert_eq!(writes(&fake), ["put state", "publish", "put state", "publish", "publish", "put state"]);
    assert!(!summary.published && summary.object.is_none());
    assert!(summary.failed.iter().any(|f| f.id == "digest:team-b" && f.error.contains("InternalError")));
    let rerun = world(objects.clone(), |_| None);
    let summary = digest_run(&rerun, &teams()).await.unwrap();
    assert_eq!(published(&rerun), ["team-b"]);
    assert_eq!(writes(&rerun), ["put state", "publish", "put state", "put digests"]);
    assert!(summary.published && summary.object.is_some());
    assert_eq!((summary.teams_published, summary.messages_published), (vec!["team-b".to_string()], 1));
    let again = world(objects, |_| None);
    assert!(digest_run(&again, &teams()).await.unwrap().already_digested);
    assert!(published(&again).is_empty());
}

#[tokio::test]
async fn a_run_dying_between_a_publish_and_its_progress_sends_only_that_message_twice() {
    let objects = team_archive();
    let lost = |c: &Call| {
        c.action.starts_with("PUT ") && c.action.contains("digest-progress") && {
            String::from_utf8_lossy(&c.body).contains("team-b")
        }
    };
    let fake = world(objects.clone(), move |c| {
        lost(c).then(|| Answer {
            status: 403,
            body: "<Error><Code>AccessDenied</Code><Message>no</Message></Error>".into(),
        })
    });
    let error = digest_run(&fake, &teams()).await.unwrap_err();
    let partial = error.downcast_ref::<PartialRun>().expect("the summary travels with the error");
    assert!(format!("{:?}", partial.summary).contains("team-a"));
    assert_eq!(published(&fake), ["team-a", "team-b"], "nothing is sent after a lost progress");
    let rerun = world(objects, |_| None);
    digest_run(&rerun, &teams()).await.unwrap();
    assert_eq!(published(&rerun), ["team-b", "-"]);
}

#[tokio::test]
async fn another_days_progress_is_ignored() {
    let objects = team_archive();
    let old = serde_json::json!({"digest_date": "2026-11-23", "published": ["team-a", "team-b", null]});
    objects.lock().unwrap().insert(PROGRESS.into(), serde_json::to_vec(&old).unwrap());
    let fake = world(objects, |_| None);
    digest_run(&fake, &teams()).await.unwrap();
    assert_eq!(published(&fake), ["team-a", "team-b", "-"]);
}

#[tokio::test]
async fn without_route_tag_one_message_claimed_then_recorded_in_the_progress() {
    let objects = team_archive();
    let fake = world(objects.clone(), |_| None);
    let summary = digest_run(&fake, &config(|_| ())).await.unwrap();
    assert_eq!(published(&fake), ["-"]);
    assert_eq!(writes(&fake), ["put state", "publish", "put state", "put digests"]);
    assert_eq!((summary.messages_published, summary.teams_published.len()), (1, 0));
    let progress = String::from_utf8(objects.lock().unwrap()[PROGRESS].clone()).unwrap();
    assert!(progress.contains(r#""published":[null]"#), "{progress}");
    assert!(message(&fake, "-").contains("ami-old") && message(&fake, "-").contains("ami-new"));
}

#[tokio::test]
async fn a_digest_run_racing_another_stops_before_it_publishes() {
    let objects = team_archive();
    let racer = objects.clone();
    let fake = world(objects.clone(), move |c| {
        if c.action.starts_with("GET ") && c.action.contains("digest-progress") {
            // Another digest run of the day claims the progress right after this run read it.
            let other = r#"{"digest_date":"2026-11-30","published":[],"writer":{"run":"other","write":0,"at":"2026-12-07T03:00:00.000Z"}}"#;
            let previous = racer.lock().unwrap().insert(PROGRESS.into(), other.into());
            return previous
                .is_none()
                .then(|| Answer { status: 404, body: "<Error><Code>NoSuchKey</Code></Error>".into() });
        }
        None
    });
    let error = digest_run(&fake, &teams()).await.unwrap_err();
    assert!(format!("{error:#}").contains("written by another run at 2026-12-07T03:00:00.000Z"), "{error:#}");
    assert!(published(&fake).is_empty(), "nothing announced");
    let progress_writes =
        fake.calls().iter().filter(|c| c.action.starts_with("PUT ") && c.action.contains("digest-progress")).count();
    assert_eq!(progress_writes, 1, "the claim, refused once and not retried");
}

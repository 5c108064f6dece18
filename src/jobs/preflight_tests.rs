//! preflight against a fake AWS (`aws::fake`): the calls in order, every EC2 request
//! but the selection's listing a DryRun, nothing written but the one test object (and
//! that deleted, conditionally), no publish, and each refusal in its own line.

use std::sync::Arc;

use aws_smithy_types::retry::RetryConfig;

use super::*;
use crate::aws::fake::{Answer, Call, Fake};
use crate::config::{Config, RawConfig};
use crate::core::retire::RetireSettings;
use crate::jobs::Deadline;

const NOW: &str = "2026-11-22T06:00:00Z";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:alerts";

fn config(mode: RetireMode) -> Config {
    let raw = RawConfig {
        archive_bucket: Some("archive".into()),
        alert_topic_arn: Some(TOPIC.into()),
        ami_tag_filters: Some("Golden=true".into()),
        ..RawConfig::default()
    };
    Config { retire: RetireSettings { mode, ..RetireSettings::default() }, ..raw.validate().unwrap() }
}

const IMAGES: &str = "<DescribeImagesResponse><imagesSet><item><imageId>ami-1</imageId><imageState>available\
    </imageState><name>golden</name><tagSet><item><key>Golden</key><value>true</value></item></tagSet>\
    <blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs><snapshotId>snap-1</snapshotId></ebs></item>\
    </blockDeviceMapping></item></imagesSet></DescribeImagesResponse>";

fn s3_error(status: u16, code: &str) -> Answer {
    Answer { status, body: format!("<Error><Code>{code}</Code><Message>{code} (fake)</Message></Error>").into() }
}

/// A world where everything is allowed; `refuse` answers first when it has an answer.
fn world(refuse: impl Fn(&Call) -> Option<Answer> + Send + Sync + 'static) -> Fake {
    let refuse = Arc::new(refuse);
    Fake::new(RetryConfig::disabled(), move |call| {
        if let Some(answer) = refuse(call) {
            return answer;
        }
        match (call.service.as_str(), call.action.as_str()) {
            ("sts", _) => Answer::ok(
                "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/ops</Arn>\
                 <UserId>AID</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>",
            ),
            ("ec2", "DescribeImages") if call.param("DryRun").is_none() => Answer::ok(IMAGES),
            ("ec2", _) => Answer::query_error(412, "DryRunOperation"),
            ("autoscaling", _) => Answer::ok(
                "<DescribeLaunchConfigurationsResponse><DescribeLaunchConfigurationsResult><LaunchConfigurations/>\
                 </DescribeLaunchConfigurationsResult></DescribeLaunchConfigurationsResponse>",
            ),
            ("s3", a) if a.contains("list-type=2") => {
                Answer::ok("<ListBucketResult><Name>archive</Name><KeyCount>0</KeyCount></ListBucketResult>")
            }
            ("s3", a) if a.starts_with("DELETE ") => Answer { status: 204, body: vec![] },
            ("s3", _) => Answer::ok("preflight"),
            ("sns", "GetTopicAttributes") => Answer::ok(
                "<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes/></GetTopicAttributesResult>\
                 </GetTopicAttributesResponse>",
            ),
            ("rbin", a) if a.starts_with("POST /list-rules") => Answer::ok(r#"{"Rules":[{"Identifier":"r1"}]}"#),
            ("rbin", _) => Answer::ok(
                r#"{"Identifier":"r1","ResourceType":"EC2_IMAGE","Status":"available","RetentionPeriod":{"RetentionPeriodValue":30,"RetentionPeriodUnit":"DAYS"}}"#,
            ),
            (service, action) => panic!("unexpected call {service}:{action}"),
        }
    })
}

async fn preflight(fake: &Fake, config: &Config) -> PreflightSummary {
    let r = Run { clients: &fake.clients, config, now: NOW.parse().unwrap(), deadline: Deadline::NONE };
    run(&r).await.unwrap()
}

fn line<'a>(summary: &'a PreflightSummary, check: &str) -> &'a Check {
    summary.checks.iter().find(|c| c.check == check).unwrap_or_else(|| panic!("no line {check}: {}", summary.table))
}

fn s3_calls(fake: &Fake) -> Vec<Call> {
    fake.calls().into_iter().filter(|c| c.service == "s3").collect()
}

#[tokio::test]
async fn all_allowed_is_green_and_writes_only_the_test_object_which_it_deletes() {
    let fake = world(|_| None);
    let s = preflight(&fake, &config(RetireMode::Enforce)).await;
    assert_eq!(s.status, Status::Ok, "{}", s.table);
    assert_eq!((s.failed, s.warnings), (0, 0));
    let key = s.test_object.clone().unwrap();
    assert!(key.starts_with("ami-usage/_preflight/20261122T060000Z-"), "{key}");

    let s3 = s3_calls(&fake);
    let actions: Vec<&str> = s3.iter().map(|c| c.action.split(' ').next().unwrap()).collect();
    assert_eq!(actions, ["GET", "PUT", "GET", "DELETE"]);
    assert!(s3[0].action.contains("prefix=ami-usage%2F"), "{}", s3[0].action);
    for c in &s3[1..] {
        let path = c.action.split(' ').nth(1).unwrap();
        assert_eq!(path.split('?').next().unwrap(), format!("/archive/{key}"), "only the test object is touched");
    }
    assert_eq!(s3[1].headers.get("if-none-match").map(String::as_str), Some("*"));
    assert!(s3[3].headers.contains_key("if-match"), "the delete is conditional");

    let ec2: Vec<Call> = fake.calls().into_iter().filter(|c| c.service == "ec2").collect();
    assert_eq!(ec2[0].action, "DescribeImages");
    assert!(ec2[1..].iter().all(|c| c.param("DryRun") == Some("true")), "every other EC2 call is a DryRun");
    assert!(ec2[1..].iter().all(|c| c.param("ImageId").is_none_or(|id| id == "ami-1")));
    let asked: Vec<&str> = ec2[1..].iter().map(|c| c.action.as_str()).collect();
    assert!(asked.contains(&"DisableImage") && asked.contains(&"DeregisterImage"), "{asked:?}");
    let create = ec2.iter().find(|c| c.action == "CreateImageUsageReport").unwrap();
    assert_eq!(create.param("ResourceType.1.ResourceType"), Some("ec2:Instance"));
    assert_eq!(create.param("TagSpecification.1.Tag.1.Value"), Some("2026-11-22"));
    assert!(!fake.actions().iter().any(|a| a == "sns:Publish"), "nothing is published");
    assert_eq!(line(&s, "recycle bin").result, Level::Ok);
}

#[tokio::test]
async fn a_refused_permission_fails_its_own_line_with_the_fix() {
    let fake = world(|c| (c.action == "DisableImage").then(|| Answer::query_error(403, "UnauthorizedOperation")));
    let s = preflight(&fake, &config(RetireMode::Enforce)).await;
    assert_eq!((s.status, s.status.exit_code()), (Status::Fail, 1));
    let refused: Vec<&Check> = s.checks.iter().filter(|c| c.result == Level::Fail).collect();
    assert_eq!(refused.len(), 1, "{}", s.table);
    assert_eq!(refused[0].check, "ec2:DisableImage");
    assert!(refused[0].fix.as_deref().unwrap().contains("RetireOwnImages"));
    assert!(s.table.contains("fix: Grant ec2:DisableImage"), "{}", s.table);
}

#[tokio::test]
async fn retirement_calls_are_not_asked_unless_enforced() {
    let fake = world(|_| None);
    let s = preflight(&fake, &config(RetireMode::Off)).await;
    assert_eq!(s.status, Status::Ok, "{}", s.table);
    assert!(!fake.actions().iter().any(|a| a == "ec2:DisableImage" || a.starts_with("rbin:")));
    assert_eq!(line(&s, "retirement calls").result, Level::Skip);
}

#[tokio::test]
async fn no_recycle_bin_rule_in_enforce_fails() {
    let fake = world(|c| (c.action.starts_with("POST /list-rules")).then(|| Answer::ok(r#"{"Rules":[]}"#)));
    let s = preflight(&fake, &config(RetireMode::Enforce)).await;
    assert_eq!(line(&s, "recycle bin").result, Level::Fail, "{}", s.table);
    assert_eq!(s.status, Status::Fail);
}

#[tokio::test]
async fn a_refused_write_tries_neither_read_nor_delete() {
    let fake = world(|c| c.action.starts_with("PUT ").then(|| s3_error(403, "AccessDenied")));
    let s = preflight(&fake, &config(RetireMode::Off)).await;
    assert_eq!(line(&s, "bucket write").result, Level::Fail);
    assert_eq!(line(&s, "bucket delete").result, Level::Skip);
    let actions: Vec<String> = s3_calls(&fake).into_iter().map(|c| c.action).collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
}

#[tokio::test]
async fn a_refused_delete_warns_and_names_the_object() {
    let fake = world(|c| c.action.starts_with("DELETE ").then(|| s3_error(403, "AccessDenied")));
    let s = preflight(&fake, &config(RetireMode::Off)).await;
    assert_eq!((s.status, s.status.exit_code()), (Status::Warn, 3), "{}", s.table);
    let fix = line(&s, "bucket delete").fix.clone().unwrap();
    assert!(fix.contains(s.test_object.as_deref().unwrap()), "{fix}");
}

#[tokio::test]
async fn without_credentials_nothing_else_is_asked() {
    let fake = world(|c| (c.service == "sts").then(|| Answer::query_error(403, "InvalidClientTokenId")));
    let s = preflight(&fake, &config(RetireMode::Enforce)).await;
    assert_eq!(s.status, Status::Fail);
    assert_eq!(fake.actions(), ["sts:GetCallerIdentity"]);
    assert_eq!(s.checks.len(), 2, "{}", s.table);
    assert!(s.test_object.is_none());
}

#[tokio::test]
async fn nothing_selected_asks_about_the_placeholder_and_warns_when_ec2_looks_it_up() {
    let fake = world(|c| match c.action.as_str() {
        "DescribeImages" if c.param("DryRun").is_none() => {
            Some(Answer::ok("<DescribeImagesResponse><imagesSet/></DescribeImagesResponse>"))
        }
        "CreateImageUsageReport" => Some(Answer::query_error(400, "InvalidAMIID.NotFound")),
        _ => None,
    });
    let s = preflight(&fake, &config(RetireMode::Off)).await;
    assert_eq!(line(&s, "selection").result, Level::Warn);
    assert_eq!(line(&s, "ec2:CreateImageUsageReport").result, Level::Warn);
    let create = fake.calls().into_iter().find(|c| c.action == "CreateImageUsageReport").unwrap();
    assert_eq!(create.param("ImageId"), Some(PLACEHOLDER_IMAGE_ID));
    assert_eq!(s.status, Status::Warn);
}

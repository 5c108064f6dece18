//! probe against a fake AWS (`aws::fake`): what a member's facts say of the AMIs its
//! owners share with it and of those they are retiring, and which calls found them.

use aws_smithy_types::retry::RetryConfig;

use super::*;
use crate::aws::fake::{Answer, Call, Fake};
use crate::config::{Config, RawConfig};
use crate::jobs::Deadline;

const NOW: &str = "2026-11-22T06:00:00Z";
const OWNER: &str = "123456789012";
const MEMBER: &str = "111111111111";
const BUCKET: &str = "org";

fn image(id: &str) -> String {
    format!(
        "<item><imageId>{id}</imageId><imageOwnerId>{OWNER}</imageOwnerId><imageState>available</imageState></item>"
    )
}

/// Owner listing: ami-listed; by id: ami-deprecated (a batch naming ami-gone is refused
/// as not found, so the ids are asked one by one).
fn describe_images(call: &Call) -> Answer {
    assert_eq!(call.param("IncludeDeprecated"), Some("true"), "deprecated AMIs are asked for");
    match (call.param("Owner.1"), call.param("ImageId.1"), call.param("ImageId.2")) {
        (Some(OWNER), None, _) => Answer::ok(format!(
            "<DescribeImagesResponse><imagesSet>{}</imagesSet></DescribeImagesResponse>",
            image("ami-listed")
        )),
        (None, Some(_), Some(_)) => Answer::query_error(400, "InvalidAMIID.NotFound"),
        (None, Some("ami-deprecated"), None) => Answer::ok(format!(
            "<DescribeImagesResponse><imagesSet>{}</imagesSet></DescribeImagesResponse>",
            image("ami-deprecated")
        )),
        (None, Some(_), None) => Answer::ok("<DescribeImagesResponse><imagesSet/></DescribeImagesResponse>"),
        other => panic!("unexpected DescribeImages {other:?}"),
    }
}

fn ec2(call: &Call) -> Answer {
    match call.action.as_str() {
        "DescribeImages" => describe_images(call),
        "GetAllowedImagesSettings" => Answer::ok(
            "<GetAllowedImagesSettingsResponse><state>enabled</state><managedBy>account</managedBy><imageCriterionSet>\
             <item><imageProviderSet><item>123456789012</item></imageProviderSet>\
             <deprecationTimeCondition><maximumDaysSinceDeprecated>0</maximumDaysSinceDeprecated></deprecationTimeCondition></item>\
             </imageCriterionSet></GetAllowedImagesSettingsResponse>",
        ),
        "DescribeImageReferences" if call.param("ImageId.1") == Some("ami-disabled") => {
            Answer::query_error(400, "InvalidAMIID.Unavailable")
        }
        "DescribeImageReferences" => {
            Answer::ok("<DescribeImageReferencesResponse><imageReferenceSet/></DescribeImageReferencesResponse>")
        }
        "DescribeSpotFleetRequests" => Answer::ok(
            "<DescribeSpotFleetRequestsResponse><spotFleetRequestConfigSet/></DescribeSpotFleetRequestsResponse>",
        ),
        "DescribeFleets" => Answer::ok("<DescribeFleetsResponse><fleetSet/></DescribeFleetsResponse>"),
        "DescribeLaunchTemplates" => Answer::ok(
            "<DescribeLaunchTemplatesResponse><launchTemplates><item><launchTemplateId>lt-1</launchTemplateId>\
             <latestVersionNumber>30</latestVersionNumber></item></launchTemplates></DescribeLaunchTemplatesResponse>",
        ),
        "DescribeLaunchTemplateVersions" => {
            assert_eq!((call.param("MinVersion"), call.param("MaxVersion")), (Some("11"), Some("30")), "the depth: 20");
            Answer::ok(
                "<DescribeLaunchTemplateVersionsResponse><launchTemplateVersionSet><item><versionNumber>12</versionNumber>\
                 <launchTemplateData><imageId>ami-disabled</imageId></launchTemplateData></item>\
                 </launchTemplateVersionSet></DescribeLaunchTemplateVersionsResponse>",
            )
        }
        other => panic!("unexpected EC2 call {other}"),
    }
}

fn retiring_list() -> String {
    format!(
        r#"{{"schema_version":1,"owner_account_id":"{OWNER}","region":"us-east-1","images":[
        {{"image_id":"ami-deprecated","stage":"deprecated","since":"2026-11-01T00:00:00.000Z"}},
        {{"image_id":"ami-disabled","stage":"disabled","since":"2026-11-01T00:00:00.000Z"}}]}}"#
    )
}

fn s3(call: &Call, puts: &std::sync::Mutex<Vec<Vec<u8>>>) -> Answer {
    let a = crate::aws::fake::decode(&call.action);
    if a.starts_with("GET ") && a.contains("list-type=2") {
        Answer::ok("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
    } else if a.starts_with(&format!("GET /{BUCKET}/ami-usage/account={OWNER}/retiring/region=us-east-1/retiring.json"))
    {
        Answer::ok(retiring_list())
    } else if a.starts_with("PUT ") {
        puts.lock().unwrap().push(call.body.clone());
        Answer::ok("")
    } else {
        panic!("unexpected S3 call {a}")
    }
}

fn json(call: &Call) -> Answer {
    let target = call.action.as_str();
    let body = match (call.service.as_str(), target) {
        ("ssm", "DescribeParameters") => {
            assert!(String::from_utf8_lossy(&call.body).contains("aws:ec2:image"), "filtered on DataType");
            r#"{"Parameters":[{"Name":"/golden/previous"}]}"#.to_string()
        }
        ("ssm", "GetParameters") => format!(
            r#"{{"Parameters":[{{"Name":"/golden/previous","Value":"ami-deprecated","ARN":"arn:aws:ssm:us-east-1:{MEMBER}:parameter/golden/previous"}}],"InvalidParameters":[]}}"#
        ),
        other => panic!("unexpected JSON call {other:?}"),
    };
    Answer::ok(body)
}

fn imagebuilder(call: &Call) -> Answer {
    if call.action.contains("ListImageRecipes") {
        Answer::ok(format!(
            r#"{{"imageRecipeSummaryList":[{{"arn":"arn:aws:imagebuilder:us-east-1:{MEMBER}:image-recipe/r/1.0.0","parentImage":"ami-disabled"}}]}}"#
        ))
    } else if call.action.contains("ListContainerRecipes") {
        Answer::ok(r#"{"containerRecipeSummaryList":[]}"#)
    } else {
        panic!("unexpected Image Builder call {}", call.action)
    }
}

#[tokio::test]
async fn a_member_finds_its_references_to_deprecated_and_disabled_amis_its_owner_is_retiring() {
    let puts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let written = puts.clone();
    let fake = Fake::new(RetryConfig::disabled(), move |call| match call.service.as_str() {
        "sts" => Answer::ok(format!(
            "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>{MEMBER}</Account>\
             <Arn>arn:aws:iam::{MEMBER}:user/t</Arn><UserId>t</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>"
        )),
        "ec2" => ec2(call),
        "s3" => s3(call, &written),
        "ssm" => json(call),
        "imagebuilder" => imagebuilder(call),
        "autoscaling" => Answer::ok(
            "<DescribeLaunchConfigurationsResponse><DescribeLaunchConfigurationsResult>\
             <LaunchConfigurations/></DescribeLaunchConfigurationsResult></DescribeLaunchConfigurationsResponse>",
        ),
        other => panic!("unexpected service {other}"),
    });
    let config = Config {
        probe_owner_account_ids: vec![OWNER.into()],
        archive_bucket: Some(BUCKET.into()),
        archive_prefix: format!("ami-usage/account={MEMBER}"),
        collect_concurrency: 1,
        ..RawConfig::default().validate().unwrap()
    };
    let r = Run { clients: &fake.clients, config: &config, now: NOW.parse().unwrap(), deadline: Deadline::NONE };
    let s = run(&r).await.unwrap();
    assert_eq!((s.images_probed, s.described_by_id, s.in_retirement, s.not_describable), (3, 1, 2, 1));
    assert_eq!(s.allowed_images.as_deref(), Some("enabled"));

    let [body] = &puts.lock().unwrap()[..] else { panic!("one facts object") };
    let rows = crate::core::verdict::member_facts::decode_rows(body).unwrap();
    let by_id: BTreeMap<&str, _> = rows.iter().map(|r| (r.image_id.as_str(), r)).collect();
    assert!(by_id["ami-listed"].described && by_id["ami-listed"].retirement_stage.is_none());
    let deprecated = by_id["ami-deprecated"];
    assert_eq!((deprecated.described, deprecated.retirement_stage.as_deref()), (true, Some("deprecated")));
    assert_eq!(deprecated.references[0].arn, format!("arn:aws:ssm:us-east-1:{MEMBER}:parameter/golden/previous"));
    let disabled = by_id["ami-disabled"];
    assert_eq!((disabled.described, disabled.retirement_stage.as_deref()), (false, Some("disabled")));
    assert!(!disabled.checked.contains(&"ec2:Instance".to_string()), "DescribeImageReferences refused the id");
    let kinds: Vec<&str> = disabled.references.iter().map(|r| r.resource_type.as_str()).collect();
    assert_eq!(kinds, ["ec2:LaunchTemplate", "imagebuilder:ImageRecipe"]);
    assert_eq!(disabled.references[0].arn, format!("arn:aws:ec2:us-east-1:{MEMBER}:launch-template/lt-1"));
    assert_eq!(disabled.allowed_images.as_ref().map(|a| a.deprecation_blocks_after(OWNER)), Some(Some(0)));
}

use super::*;
use crate::preflight::model::{Answer, Identity, Level, Permission, Refusal, Subject};

fn refused(code: &str, message: &str) -> Answer {
    Answer::Refused(Refusal::new(Some(code), message))
}

#[test]
fn dry_run_operation_is_allowed_and_a_refusal_names_the_statement_that_grants() {
    let ok = permission(Permission::CreateImageUsageReport, Subject::Selected, &Answer::Allowed);
    assert_eq!((ok.result, ok.fix.as_deref()), (Level::Ok, None));
    assert_eq!(ok.check, "ec2:CreateImageUsageReport");
    assert_eq!(ok.detail, "allowed (DryRun), used by create");

    let no = permission(
        Permission::CreateImageUsageReport,
        Subject::Selected,
        &refused("UnauthorizedOperation", "You are not authorized to perform this operation."),
    );
    assert_eq!(no.result, Level::Fail);
    assert_eq!(
        no.detail,
        "refused: UnauthorizedOperation: You are not authorized to perform this operation.; create will fail"
    );
    let fix = no.fix.unwrap();
    assert!(
        fix.starts_with("Grant ec2:CreateImageUsageReport to the function's role (statement CreateImageUsageReport")
    );
    assert!(fix.contains("deploy/iam-policy.json"), "{fix}");
}

#[test]
fn retirement_permissions_point_at_the_retirement_policy_and_the_template_switch() {
    let no = permission(Permission::DisableImage, Subject::Selected, &refused("UnauthorizedOperation", "no"));
    let fix = no.fix.unwrap();
    assert!(fix.contains("statement RetireOwnImages of template.yaml and deploy/iam-policy-retire.json"), "{fix}");
    assert!(fix.contains("RetireMode=enforce"), "{fix}");
    let snap = permission(Permission::DeleteSnapshot, Subject::Selected, &refused("UnauthorizedOperation", "no"));
    assert!(snap.fix.unwrap().contains("RetireDeleteSnapshots=true"));
    let tag = permission(Permission::TagStage, Subject::Selected, &refused("AccessDenied", "no"));
    assert_eq!((tag.check.as_str(), tag.result), ("ec2:CreateTags", Level::Fail));
}

#[test]
fn not_found_for_the_placeholder_proves_nothing_and_asks_for_a_selected_ami() {
    let c = permission(
        Permission::CreateImageUsageReport,
        Subject::Placeholder,
        &refused("InvalidAMIID.NotFound", "The image id '[ami-00000000000000000]' does not exist"),
    );
    assert_eq!(c.result, Level::Warn);
    assert!(c.detail.starts_with("not checked: no AMI is selected"), "{}", c.detail);
    assert!(c.fix.unwrap().contains("AMI_TAG_FILTERS"));
    let snap = permission(Permission::DeleteSnapshot, Subject::Placeholder, &refused("InvalidSnapshot.NotFound", "x"));
    assert_eq!(snap.result, Level::Warn);
}

#[test]
fn other_answers_are_inconclusive_warnings_never_green() {
    let c = permission(
        Permission::CreateImageUsageReport,
        Subject::Selected,
        &refused("InvalidParameterValue", "resource type imagebuilder:ImageRecipe is not valid"),
    );
    assert_eq!(c.result, Level::Warn);
    assert!(c.fix.unwrap().contains("REPORT_RESOURCE_TYPES"));
    let other = permission(Permission::DescribeFleets, Subject::Selected, &refused("Weird", "what"));
    assert_eq!((other.result, other.detail.as_str()), (Level::Warn, "inconclusive: Weird: what"));
    let throttled = permission(Permission::DescribeFleets, Subject::Selected, &refused("RequestLimitExceeded", "slow"));
    assert_eq!(throttled.result, Level::Warn);
    assert!(throttled.fix.unwrap().starts_with("Run preflight again"));
    let transport = permission(
        Permission::DescribeFleets,
        Subject::Selected,
        &Answer::Refused(Refusal::new(None, "dispatch failure: connection refused")),
    );
    assert_eq!(transport.result, Level::Warn);
}

#[test]
fn a_read_that_succeeded_is_allowed_but_a_change_despite_dry_run_fails() {
    let read = permission(Permission::DescribeLaunchConfigurations, Subject::Selected, &Answer::Succeeded);
    assert_eq!(
        (read.result, read.detail.as_str()),
        (Level::Ok, "allowed, used by collect's owner checks and the probe")
    );
    let mutated = permission(Permission::DeregisterImage, Subject::Selected, &Answer::Succeeded);
    assert_eq!(mutated.result, Level::Fail);
    assert!(mutated.fix.unwrap().contains("ignores DryRun"));
}

#[test]
fn refused_credentials_fail_with_the_credentials_fix() {
    let c = permission(Permission::DescribeFleets, Subject::Selected, &refused("AuthFailure", "bad key"));
    assert_eq!(c.result, Level::Fail);
    assert!(c.fix.unwrap().starts_with("Give the function valid credentials"));
    let who = identity(
        &Err(Refusal::new(Some("ExpiredToken"), "The security token included in the request is expired")),
        "us-east-1",
        None,
    );
    assert_eq!(who.result, Level::Fail);
    assert_eq!(
        who.detail,
        "sts:GetCallerIdentity refused: ExpiredToken: The security token included in the request is expired"
    );
    let me = Identity { account: "123456789012".into(), arn: "arn:aws:sts::123456789012:assumed-role/r/s".into() };
    let ok = identity(&Ok(me), "us-east-1", Some("eu-west-1"));
    assert_eq!(
        ok.detail,
        "account 123456789012 in us-east-1 as arn:aws:sts::123456789012:assumed-role/r/s; archive bucket in eu-west-1"
    );
}

#[test]
fn long_refusals_are_cut_to_one_line() {
    let long = format!("You are not authorized.\nEncoded authorization failure message: {}", "x".repeat(500));
    let line = one_line(&long);
    assert!(!line.contains('\n'));
    assert_eq!(line.chars().count(), 201);
    assert!(line.ends_with('…'));
}

#[test]
fn refused_recipe_types_that_the_documented_ones_pass_are_green_and_say_so() {
    let invalid =
        refused("InvalidParameterValue", "Value (imagebuilder:ImageRecipe) for parameter ResourceType is invalid");
    let two = ["ec2:Instance".to_string(), "ec2:LaunchTemplate".to_string()];
    let ok =
        create_permission(Subject::Selected, &invalid, Some(TypesFallback { types: &two, answer: &Answer::Allowed }));
    assert_eq!(ok.result, Level::Ok);
    assert!(ok.detail.contains("allowed (DryRun) with ec2:Instance, ec2:LaunchTemplate"), "{}", ok.detail);
    assert!(ok.detail.contains("not checked"), "{}", ok.detail);
    let denied = refused("UnauthorizedOperation", "no");
    let still = create_permission(Subject::Selected, &invalid, Some(TypesFallback { types: &two, answer: &denied }));
    assert_eq!(still.result, Level::Fail, "the request create falls back to is denied");
    let no_fallback = create_permission(Subject::Selected, &invalid, None);
    assert_eq!(no_fallback.result, Level::Warn);
    let denied_first = create_permission(Subject::Selected, &denied, None);
    assert_eq!(denied_first.result, Level::Fail);
}

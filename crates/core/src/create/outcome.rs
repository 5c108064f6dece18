//! What EC2's answer to CreateImageUsageReport means for a create run. The edge
//! (`aws::ec2::create_report`) extracts the report id or the error code; the meaning
//! of each code is decided here, and so is the fallback when EC2 refuses the Image
//! Builder recipe types.

use crate::model::{RESOURCE_TYPE_INSTANCE, RESOURCE_TYPE_LAUNCH_TEMPLATE};

/// The report resource types the EC2 API reference documents as valid
/// (`ImageUsageResourceTypeRequest.ResourceType`: "ec2:Instance | ec2:LaunchTemplate").
/// Newer SDK documentation adds the two Image Builder recipe types, which a Region or
/// partition may still refuse.
pub const DOCUMENTED_REPORT_TYPES: [&str; 2] = [RESOURCE_TYPE_INSTANCE, RESOURCE_TYPE_LAUNCH_TEMPLATE];

#[derive(Debug, PartialEq)]
pub enum CreateOutcome {
    Created(String),
    /// EC2 says a report with this token but other parameters exists: the configuration
    /// changed within the period, and the AMI already has its report.
    AlreadyExists,
    /// An account-wide limit (pending reports) is reached: stop creating for this run.
    QuotaReached(String),
    /// EC2 allows one pending report per AMI and the previous period's is still pending
    /// (`IncorrectState`): nothing is wrong, the next run in this period creates it.
    PreviousPending(String),
    /// EC2 refused a request asking for types beyond [`DOCUMENTED_REPORT_TYPES`]
    /// (`InvalidParameterValue`): retry with [`documented_fallback`] and keep to those
    /// types for the rest of the run, instead of failing every AMI every day.
    TypesRefused(String),
    Failed(String),
}

impl CreateOutcome {
    /// A successful answer: the report EC2 created, which the answer must name.
    pub fn of_answer(report_id: Option<&str>) -> Self {
        match report_id {
            Some(id) => CreateOutcome::Created(id.to_string()),
            None => CreateOutcome::Failed("CreateImageUsageReport returned no ReportId".into()),
        }
    }

    /// A refused call, from its service error code (`None` for a transport error or a
    /// timeout) and the text to report. `RequestLimitExceeded` is throttling of the call
    /// itself, not a quota: after the SDK's retries it is a failure of this AMI alone,
    /// and the next AMIs are still tried. `asked`: the resource types the request named.
    pub fn of_refusal(code: Option<&str>, text: String, asked: &[String]) -> Self {
        match code {
            Some("InvalidParameterValue") if documented_fallback(asked).is_some() => CreateOutcome::TypesRefused(text),
            Some("IdempotentParameterMismatch") => CreateOutcome::AlreadyExists,
            Some("IncorrectState") => CreateOutcome::PreviousPending(text),
            Some(code) if code.contains("LimitExceeded") && code != "RequestLimitExceeded" => {
                CreateOutcome::QuotaReached(text)
            }
            _ => CreateOutcome::Failed(text),
        }
    }
}

/// The types to ask for once EC2 refused `asked`: the documented two, when `asked`
/// named any other type (`None`: `asked` was documented types only, so a refusal of it
/// is a failure like any other, and nothing is retried twice).
pub fn documented_fallback(asked: &[String]) -> Option<Vec<String>> {
    asked
        .iter()
        .any(|t| !DOCUMENTED_REPORT_TYPES.contains(&t.as_str()))
        .then(|| DOCUMENTED_REPORT_TYPES.iter().map(|t| t.to_string()).collect())
}

/// The ClientToken of a create: the period's token, marked when the request is the
/// documented-types fallback, so it can never meet the refused request's token
/// (whether EC2 remembers a refused request's token is not documented).
pub fn fallback_token(token: &str, fallback: bool) -> String {
    if fallback { format!("{token}-d2") } else { token.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    fn refused(code: &str) -> CreateOutcome {
        CreateOutcome::of_refusal(Some(code), format!("{code}: why"), &types(&DOCUMENTED_REPORT_TYPES))
    }

    const ALL_FOUR: [&str; 4] =
        ["ec2:Instance", "ec2:LaunchTemplate", "imagebuilder:ImageRecipe", "imagebuilder:ContainerRecipe"];

    #[test]
    fn a_refused_request_with_recipe_types_falls_back_to_the_documented_two() {
        let outcome = CreateOutcome::of_refusal(Some("InvalidParameterValue"), "bad type".into(), &types(&ALL_FOUR));
        assert_eq!(outcome, CreateOutcome::TypesRefused("bad type".into()));
        assert_eq!(documented_fallback(&types(&ALL_FOUR)), Some(types(&["ec2:Instance", "ec2:LaunchTemplate"])));
        let recipes_only = types(&["imagebuilder:ImageRecipe"]);
        assert_eq!(documented_fallback(&recipes_only), Some(types(&["ec2:Instance", "ec2:LaunchTemplate"])));
    }

    #[test]
    fn a_refused_request_of_documented_types_only_is_a_failure_never_retried() {
        assert_eq!(refused("InvalidParameterValue"), CreateOutcome::Failed("InvalidParameterValue: why".into()));
        assert_eq!(documented_fallback(&types(&["ec2:Instance"])), None);
        let other = CreateOutcome::of_refusal(Some("InvalidAMIID.NotFound"), "x".into(), &types(&ALL_FOUR));
        assert_eq!(other, CreateOutcome::Failed("x".into()));
    }

    #[test]
    fn the_fallback_has_its_own_client_token() {
        assert_eq!(fallback_token("aur-ami-1-20261122", false), "aur-ami-1-20261122");
        assert_eq!(fallback_token("aur-ami-1-20261122", true), "aur-ami-1-20261122-d2");
    }

    #[test]
    fn a_changed_configuration_within_the_period_counts_as_already_reported() {
        assert_eq!(refused("IdempotentParameterMismatch"), CreateOutcome::AlreadyExists);
    }

    #[test]
    fn a_pending_previous_report_defers_the_ami_to_the_next_run() {
        assert_eq!(refused("IncorrectState"), CreateOutcome::PreviousPending("IncorrectState: why".into()));
    }

    #[test]
    fn account_limits_stop_the_run_but_throttling_does_not() {
        for code in ["ResourceLimitExceeded", "ImageUsageReportLimitExceeded"] {
            assert_eq!(refused(code), CreateOutcome::QuotaReached(format!("{code}: why")), "{code}");
        }
        assert_eq!(refused("RequestLimitExceeded"), CreateOutcome::Failed("RequestLimitExceeded: why".into()));
    }

    #[test]
    fn anything_else_is_a_failure_of_that_ami() {
        for code in ["InvalidAMIID.NotFound", "InternalError", "Unavailable", "UnauthorizedOperation"] {
            assert_eq!(refused(code), CreateOutcome::Failed(format!("{code}: why")), "{code}");
        }
        let timeout = CreateOutcome::of_refusal(None, "timeout".into(), &types(&ALL_FOUR));
        assert_eq!(timeout, CreateOutcome::Failed("timeout".into()));
    }

    #[test]
    fn an_answer_without_a_report_id_is_a_failure() {
        assert_eq!(CreateOutcome::of_answer(Some("amiur-1")), CreateOutcome::Created("amiur-1".into()));
        assert!(matches!(CreateOutcome::of_answer(None), CreateOutcome::Failed(why) if why.contains("no ReportId")));
    }
}

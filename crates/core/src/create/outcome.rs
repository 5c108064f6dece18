//! What EC2's answer to CreateImageUsageReport means for a create run. The edge
//! (`aws::ec2::create_report`) extracts the report id or the error code; the meaning
//! of each code is decided here.

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
    /// and the next AMIs are still tried.
    pub fn of_refusal(code: Option<&str>, text: String) -> Self {
        match code {
            Some("IdempotentParameterMismatch") => CreateOutcome::AlreadyExists,
            Some("IncorrectState") => CreateOutcome::PreviousPending(text),
            Some(code) if code.contains("LimitExceeded") && code != "RequestLimitExceeded" => {
                CreateOutcome::QuotaReached(text)
            }
            _ => CreateOutcome::Failed(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: &str) -> CreateOutcome {
        CreateOutcome::of_refusal(Some(code), format!("{code}: why"))
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
        assert_eq!(CreateOutcome::of_refusal(None, "timeout".into()), CreateOutcome::Failed("timeout".into()));
    }

    #[test]
    fn an_answer_without_a_report_id_is_a_failure() {
        assert_eq!(CreateOutcome::of_answer(Some("amiur-1")), CreateOutcome::Created("amiur-1".into()));
        assert!(matches!(CreateOutcome::of_answer(None), CreateOutcome::Failed(why) if why.contains("no ReportId")));
    }
}

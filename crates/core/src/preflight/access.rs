//! The credentials and each IAM permission: what AWS's answer means.
//!
//! EC2 answers a `DryRun` request `DryRunOperation` when the caller may make it and
//! `UnauthorizedOperation` when not (EC2 API reference, every action's `DryRun`
//! member). Any other answer says nothing about the permission: in particular
//! `InvalidAMIID.*` for the placeholder AMI (nothing selected) is *not* read as
//! "allowed" — AWS does not document whether EC2 authorises before it looks the AMI
//! up, so the line is a warning that asks for a selected AMI, never a green line
//! resting on a guess.

use super::model::{Answer, Check, Identity, Level, Permission, Refusal, Subject};

/// Answers that mean "not allowed": IAM, an SCP or a permissions boundary.
pub fn is_denied(code: &str) -> bool {
    matches!(
        code,
        "UnauthorizedOperation"
            | "AccessDenied"
            | "AccessDeniedException"
            | "AuthorizationError"
            | "UnauthorizedAccess"
            | "Forbidden"
    )
}

/// Answers that mean the credentials themselves are refused.
pub fn is_bad_credentials(code: &str) -> bool {
    matches!(
        code,
        "AuthFailure"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "RequestExpired"
            | "SignatureDoesNotMatch"
            | "UnrecognizedClientException"
            | "InvalidAccessKeyId"
            | "MissingAuthenticationToken"
    )
}

/// Answers worth a second try: throttling, a server error, no answer at all.
pub fn is_transient(refusal: &Refusal) -> bool {
    matches!(
        refusal.code(),
        "" | "RequestLimitExceeded"
            | "Throttling"
            | "ThrottlingException"
            | "TooManyRequestsException"
            | "LimitExceededException"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "Unavailable"
            | "SlowDown"
    )
}

/// One line of AWS's text, cut to a readable length (IAM's refusals carry a long
/// encoded message).
pub fn one_line(text: &str) -> String {
    const MAX: usize = 200;
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX { flat } else { format!("{}…", flat.chars().take(MAX).collect::<String>()) }
}

fn answered(r: &Refusal) -> String {
    match &r.code {
        Some(code) if !r.message.contains(code.as_str()) => one_line(&format!("{code}: {}", r.message)),
        _ => one_line(&r.message),
    }
}

pub const CREDENTIALS_FIX: &str = "Give the function valid credentials: the Lambda role, or for the CLI \
    AWS_PROFILE / AWS_ACCESS_KEY_ID (and AWS_SESSION_TOKEN for temporary ones) of the AMI owner account.";

/// `credentials`: who the run is, where, and the archive bucket's Region as configured.
pub fn identity(answer: &Result<Identity, Refusal>, region: &str, bucket_region: Option<&str>) -> Check {
    match answer {
        Ok(me) => {
            let bucket = bucket_region.map(|r| format!("; archive bucket in {r}")).unwrap_or_default();
            Check::new("credentials", Level::Ok, format!("account {} in {region} as {}{bucket}", me.account, me.arn))
        }
        Err(r) => Check::new("credentials", Level::Fail, format!("sts:GetCallerIdentity refused: {}", answered(r)))
            .with_fix(CREDENTIALS_FIX),
    }
}

fn grant(p: Permission) -> String {
    let (file, template) = match p {
        Permission::DeleteSnapshot => {
            ("deploy/iam-policy-retire.json", "; the template grants it with RetireDeleteSnapshots=true")
        }
        _ if p.needed_by().starts_with("retirement") => {
            ("deploy/iam-policy-retire.json", "; the template grants it with RetireMode=enforce")
        }
        _ => ("deploy/iam-policy.json", ""),
    };
    format!(
        "Grant {} to the function's role (statement {} of template.yaml and {file}{template}); if it is granted, \
         a service control policy or permissions boundary denies it.",
        p.action(),
        p.statement()
    )
}

/// One permission, from the answer to a request made without effect.
pub fn permission(p: Permission, subject: Subject, answer: &Answer) -> Check {
    let name = p.action();
    let needed = p.needed_by();
    match answer {
        Answer::Allowed => Check::new(name, Level::Ok, format!("allowed (DryRun), used by {needed}")),
        Answer::Succeeded if !p.mutates() => Check::new(name, Level::Ok, format!("allowed, used by {needed}")),
        Answer::Succeeded => Check::new(name, Level::Fail, "the call took effect although DryRun was set")
            .with_fix("This endpoint ignores DryRun, unlike EC2: check AWS_ENDPOINT_URL; report the change it made."),
        Answer::Refused(r) => refused(p, subject, r),
    }
}

/// The types a create falls back to when EC2 refused the configured ones
/// (`create::documented_fallback`), and EC2's answer to the same DryRun with them.
pub struct TypesFallback<'a> {
    pub types: &'a [String],
    pub answer: &'a Answer,
}

/// `ec2:CreateImageUsageReport`: like any permission, except that a refusal of the
/// configured resource types that the documented ones pass is what create itself
/// survives (it retries with those, and the verdicts say the other kinds were not
/// checked): the line is green and says so, rather than a warning on every deployment
/// in a Region that refuses the recipe types. Otherwise the fallback's own answer
/// decides: it is the request create will send.
pub fn create_permission(subject: Subject, answer: &Answer, fallback: Option<TypesFallback<'_>>) -> Check {
    let p = Permission::CreateImageUsageReport;
    let (Answer::Refused(r), Some(fallback)) = (answer, fallback) else {
        return permission(p, subject, answer);
    };
    if r.code() != "InvalidParameterValue" {
        return permission(p, subject, answer);
    }
    if !matches!(fallback.answer, Answer::Allowed) {
        return permission(p, subject, fallback.answer);
    }
    Check::new(
        p.action(),
        Level::Ok,
        format!(
            "allowed (DryRun) with {types}; EC2 here refuses the other configured types ({}): create asks for {types} \
             and the verdicts mark the other kinds not checked (announced once)",
            one_line(&r.message),
            types = fallback.types.join(", ")
        ),
    )
}

fn refused(p: Permission, subject: Subject, r: &Refusal) -> Check {
    let name = p.action();
    let code = r.code();
    if is_denied(code) {
        return Check::new(name, Level::Fail, format!("refused: {}; {} will fail", answered(r), p.needed_by()))
            .with_fix(grant(p));
    }
    if is_bad_credentials(code) {
        return Check::new(name, Level::Fail, format!("credentials refused: {}", answered(r)))
            .with_fix(CREDENTIALS_FIX);
    }
    if is_transient(r) {
        return Check::new(name, Level::Warn, format!("not checked: {}", answered(r)))
            .with_fix("Run preflight again: AWS throttled the request or failed to answer.");
    }
    let not_found = code.starts_with("InvalidAMIID.") || code.starts_with("InvalidSnapshot.");
    match (not_found, subject) {
        (true, Subject::Placeholder) => Check::new(
            name,
            Level::Warn,
            format!("not checked: no AMI is selected to ask about, and EC2 answered {code} for the placeholder"),
        )
        .with_fix("Tag an AMI to match AMI_TAG_FILTERS, then run preflight again."),
        _ if p == Permission::CreateImageUsageReport => {
            Check::new(name, Level::Warn, format!("inconclusive: {}", answered(r))).with_fix(
                "EC2 refused the request itself: check REPORT_RESOURCE_TYPES (the recipe types are not accepted \
                 everywhere), REPORT_ACCOUNT_IDS and LAUNCH_TEMPLATE_VERSION_DEPTH.",
            )
        }
        _ => Check::new(name, Level::Warn, format!("inconclusive: {}", answered(r)))
            .with_fix(format!("EC2's answer says nothing about {name}: read it, then run preflight again.")),
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;

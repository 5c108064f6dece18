//! CloudWatch metrics of a run, as one CloudWatch **embedded metric format** (EMF) log
//! line. Lambda ships stdout to CloudWatch Logs, which extracts the metrics from the
//! line: no `cloudwatch:PutMetricData` permission, no extra API call, no latency.
//!
//! Pure: the caller supplies the summary, the function name and the time; the result is
//! the JSON object to print. Spec:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::jobs::Summary;

/// Namespace of every metric; template.yaml's alarms name it too.
pub const NAMESPACE: &str = "AmiUsageReporter";
/// The one dimension set: per function (one per stack, account and Region) and phase,
/// so that alarms can target one deployment's collect runs.
pub const DIMENSIONS: [&str; 2] = ["FunctionName", "Phase"];

/// The dimension set of the per-family lines (`core::family_metrics`: at most
/// `MAX_FAMILIES` families and `(other)` per function, so the series stay bounded).
pub const FAMILY_DIMENSIONS: [&str; 3] = ["FunctionName", "Phase", "Family"];

/// One metric value: name (the alarm contract), value, CloudWatch unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: u64,
}

fn count(name: &'static str, value: usize) -> Metric {
    Metric { name, value: value as u64 }
}

/// The metrics a summary yields. Every metric of a phase is always present (zero
/// included), so an alarm sees a data point per run rather than missing data.
pub fn metrics_of(summary: &Summary) -> Vec<Metric> {
    match summary {
        Summary::Create(s) => vec![
            count("AmisSelected", s.selected),
            count("ReportsCreated", s.created),
            count("AlreadyReported", s.already_reported),
            count("AmisNotAvailable", s.not_available),
            count("Failures", s.failed.len()),
            count("Remaining", s.remaining),
        ],
        Summary::Collect(s) => vec![
            count("ReportsSeen", s.reports_seen),
            count("ReportsArchived", s.archived),
            Metric { name: "EntriesArchived", value: s.entries_archived },
            count("ReportsPending", s.pending),
            count("PendingTooLong", s.pending_too_long.len()),
            count("ReportErrors", s.errors.len()),
            count("ExpiringUnarchived", s.expiring_unarchived.len()),
            count("NewCandidates", s.new_candidates.len()),
            count("StillUnused", s.still_unused),
            count("Candidates", s.verdicts.as_ref().map_or(0, |v| v.candidate)),
            count("InUse", s.verdicts.as_ref().map_or(0, |v| v.in_use)),
            count("Unknown", s.verdicts.as_ref().map_or(0, |v| v.unknown)),
            count("RetireActionsDone", s.retire.as_ref().map_or(0, |r| r.done)),
            count("RetireHeld", s.retire.as_ref().map_or(0, |r| r.held)),
            count("Failures", s.failed.len()),
            count("Remaining", s.remaining),
        ],
        Summary::Probe(s) => {
            vec![count("ImagesProbed", s.images_probed), count("MemberReferences", s.references_found)]
        }
        Summary::Digest(s) => vec![
            count("DigestCandidatesNew", s.counts.candidates_new),
            count("DigestCandidatesStanding", s.counts.candidates_standing),
            count("DigestUsedAgain", s.counts.used_again),
            count("DigestReportProblems", s.counts.report_problems),
            count("ReservationsUnderThreshold", s.reservations_under_threshold),
            count("ReservationsEndingSoon", s.reservations_ending_soon),
            count("DigestsPublished", usize::from(s.published)),
            count("Failures", s.failed.len()),
        ],
        Summary::Preflight(s) => vec![count("PreflightFailed", s.failed), count("PreflightWarnings", s.warnings)],
    }
}

/// The EMF object for one run: `_aws` metadata (timestamp in epoch milliseconds, one
/// metric directive), the dimension values and one member per metric value.
pub fn emf(summary: &Summary, function_name: &str, at: DateTime<Utc>) -> Value {
    let mut line = emf_line(&metrics_of(summary), &DIMENSIONS, at);
    line.insert("FunctionName".into(), Value::from(function_name));
    line.insert("Phase".into(), Value::from(summary.phase().as_str()));
    Value::Object(line)
}

/// The `_aws` directive and the metric values of one line; the caller adds the
/// dimension values.
fn emf_line(metrics: &[Metric], dimensions: &[&str], at: DateTime<Utc>) -> Map<String, Value> {
    let definitions: Vec<Value> = metrics.iter().map(|m| json!({"Name": m.name, "Unit": "Count"})).collect();
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": definitions,
            }],
        }),
    );
    for m in metrics {
        line.insert(m.name.into(), Value::from(m.value));
    }
    line
}

/// Every EMF line of a run: the phase's line, then collect's one line per `GROUP_TAG`
/// family (one log event each: a line has one dimension set for all its metrics).
pub fn emf_lines(summary: &Summary, function_name: &str, at: DateTime<Utc>) -> Vec<Value> {
    let mut lines = vec![emf(summary, function_name, at)];
    if let Summary::Collect(s) = summary {
        for f in s.verdicts.iter().flat_map(|v| &v.families) {
            let metrics = [
                count("FamilyAmis", f.selected),
                count("FamilyCandidates", f.candidate),
                count("FamilyInUse", f.in_use),
                count("FamilyUnknown", f.unknown),
            ];
            let mut line = emf_line(&metrics, &FAMILY_DIMENSIONS, at);
            line.insert("FunctionName".into(), Value::from(function_name));
            line.insert("Phase".into(), Value::from(summary.phase().as_str()));
            line.insert("Family".into(), Value::from(f.family.as_str()));
            lines.push(Value::Object(line));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::digest::DigestCounts;
    use crate::jobs::Failure;
    use crate::jobs::collect::{CollectSummary, ReportRef};
    use crate::jobs::create::CreateSummary;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T06:00:00.123Z").unwrap().with_timezone(&Utc)
    }

    fn report_ref(id: &str) -> ReportRef {
        ReportRef { report_id: id.into(), image_id: "ami-1".into(), state: "pending".into(), detail: None }
    }

    fn collect() -> Summary {
        Summary::Collect(Box::new(CollectSummary {
            reports_seen: 9,
            archived: 4,
            entries_archived: 1234,
            pending: 2,
            pending_too_long: vec![report_ref("amiur-a")],
            errors: vec![report_ref("amiur-b"), report_ref("amiur-c")],
            expiring_unarchived: vec![report_ref("amiur-d")],
            new_candidates: vec!["ami-1".into()],
            still_unused: 3,
            failed: vec![Failure { id: "amiur-e".into(), error: "boom".into() }],
            remaining: 5,
            ..Default::default()
        }))
    }

    #[test]
    fn collect_line_follows_the_emf_specification() {
        let line = emf(&collect(), "stack-ami-usage-reporter", at());
        let aws = &line["_aws"];
        assert_eq!(aws["Timestamp"], json!(1_795_327_200_123_i64));
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let d = &directives[0];
        assert_eq!(d["Namespace"], json!("AmiUsageReporter"));
        assert_eq!(d["Dimensions"], json!([["FunctionName", "Phase"]]));
        // Every dimension and every metric named in the directive is a top-level member
        // (CloudWatch rejects the directive otherwise) and each metric value is a number.
        for dim in d["Dimensions"][0].as_array().unwrap() {
            assert!(line[dim.as_str().unwrap()].is_string(), "{dim}");
        }
        let names: Vec<&str> = d["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        for m in d["Metrics"].as_array().unwrap() {
            assert_eq!(m["Unit"], json!("Count"));
            assert!(line[m["Name"].as_str().unwrap()].is_u64(), "{m}");
        }
        assert!(names.len() <= 100, "EMF allows at most 100 metrics per directive");
        assert_eq!(line["FunctionName"], json!("stack-ami-usage-reporter"));
        assert_eq!(line["Phase"], json!("collect"));
        let expected = [
            ("ReportsSeen", 9),
            ("ReportsArchived", 4),
            ("EntriesArchived", 1234),
            ("ReportsPending", 2),
            ("PendingTooLong", 1),
            ("ReportErrors", 2),
            ("ExpiringUnarchived", 1),
            ("NewCandidates", 1),
            ("StillUnused", 3),
            ("Candidates", 0),
            ("InUse", 0),
            ("Unknown", 0),
            ("RetireActionsDone", 0),
            ("RetireHeld", 0),
            ("Failures", 1),
            ("Remaining", 5),
        ];
        assert_eq!(names, expected.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        for (name, value) in expected {
            assert_eq!(line[name], json!(value), "{name}");
        }
        // One line: what Lambda ships to CloudWatch Logs as one log event.
        assert!(!line.to_string().contains('\n'));
    }

    #[test]
    fn collect_writes_one_line_per_family_with_its_own_dimension_set() {
        use crate::core::verdict::FamilyCounts;
        use crate::jobs::verdicts::VerdictCounts;
        let family =
            |name: &str, selected| FamilyCounts { family: name.into(), selected, candidate: 1, ..Default::default() };
        let Summary::Collect(mut s) = collect() else { unreachable!() };
        s.verdicts = Some(Box::new(VerdictCounts {
            candidate: 2,
            in_use: 4,
            families: vec![family("web", 3), family("(other)", 1)],
            ..Default::default()
        }));
        let lines = emf_lines(&Summary::Collect(s), "f", at());
        assert_eq!(lines.len(), 3);
        assert_eq!((lines[0]["Candidates"].clone(), lines[0]["InUse"].clone()), (json!(2), json!(4)));
        let web = &lines[1];
        assert_eq!(web["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["FunctionName", "Phase", "Family"]]));
        assert_eq!((web["Family"].clone(), web["Phase"].clone()), (json!("web"), json!("collect")));
        assert_eq!((web["FamilyAmis"].clone(), web["FamilyCandidates"].clone()), (json!(3), json!(1)));
        assert_eq!(lines[2]["Family"], json!("(other)"));
        assert_eq!(emf_lines(&Summary::Create(CreateSummary::default()), "f", at()).len(), 1);
    }

    #[test]
    fn create_line_has_the_create_metrics_even_when_zero() {
        let s = Summary::Create(CreateSummary {
            selected: 10,
            created: 7,
            already_reported: 2,
            not_available: 1,
            ..Default::default()
        });
        let line = emf(&s, "f", at());
        assert_eq!(line["Phase"], json!("create"));
        for (name, value) in [
            ("AmisSelected", 10),
            ("ReportsCreated", 7),
            ("AlreadyReported", 2),
            ("AmisNotAvailable", 1),
            ("Failures", 0),
            ("Remaining", 0),
        ] {
            assert_eq!(line[name], json!(value), "{name}");
        }
        assert!(line.get("ReportsArchived").is_none());
    }

    #[test]
    fn probe_line_counts_the_images_probed_and_the_references_found() {
        let s = Summary::Probe(crate::jobs::probe::ProbeSummary {
            images_probed: 4,
            references_found: 2,
            ..Default::default()
        });
        let line = emf(&s, "f", at());
        assert_eq!(line["Phase"], json!("probe"));
        assert_eq!((line["ImagesProbed"].clone(), line["MemberReferences"].clone()), (json!(4), json!(2)));
    }

    #[test]
    fn digest_line_counts_the_weeks_figures_and_whether_it_was_published() {
        let s = Summary::Digest(Box::new(crate::jobs::digest::DigestSummary {
            counts: DigestCounts {
                candidates_new: 2,
                candidates_standing: 5,
                used_again: 1,
                report_problems: 3,
                ..Default::default()
            },
            reservations_under_threshold: 4,
            reservations_ending_soon: 1,
            published: true,
            ..Default::default()
        }));
        let line = emf(&s, "f", at());
        assert_eq!(line["Phase"], json!("digest"));
        for (name, value) in [
            ("DigestCandidatesNew", 2),
            ("DigestCandidatesStanding", 5),
            ("DigestUsedAgain", 1),
            ("DigestReportProblems", 3),
            ("ReservationsUnderThreshold", 4),
            ("ReservationsEndingSoon", 1),
            ("DigestsPublished", 1),
            ("Failures", 0),
        ] {
            assert_eq!(line[name], json!(value), "{name}");
        }
    }

    #[test]
    fn metric_names_never_collide_with_the_reserved_members() {
        let digest = Summary::Digest(Box::default());
        for s in [collect(), Summary::Create(CreateSummary::default()), Summary::Probe(Default::default()), digest] {
            let names: Vec<&str> = metrics_of(&s).iter().map(|m| m.name).collect();
            let unique: std::collections::BTreeSet<&&str> = names.iter().collect();
            assert_eq!(unique.len(), names.len());
            for reserved in ["_aws", "FunctionName", "Phase"] {
                assert!(!names.contains(&reserved));
            }
        }
    }
}

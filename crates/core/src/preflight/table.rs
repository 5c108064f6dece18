//! The preflight's verdict and its one table: a line per check (check, result, what
//! AWS answered) with the fix under every warning and failure.

use super::model::{Check, Level, Status};

/// The worst check decides: a failure fails, a warning warns, skipped lines count as ok.
pub fn status(checks: &[Check]) -> Status {
    match checks.iter().map(|c| c.result).max() {
        Some(Level::Fail) => Status::Fail,
        Some(Level::Warn) => Status::Warn,
        _ => Status::Ok,
    }
}

/// How many checks came out at `level`.
pub fn count(checks: &[Check], level: Level) -> usize {
    checks.iter().filter(|c| c.result == level).count()
}

/// The table as printed: aligned columns, the fix indented on its own line, and a last
/// line with the counts and the exit code.
pub fn render(checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.check.chars().count()).max().unwrap_or(0).max("CHECK".len());
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut out = format!("{}  {}  {}\n", pad("CHECK", width), pad("RESULT", 6), "DETAIL");
    for c in checks {
        let line = format!("{}  {}  {}", pad(&c.check, width), pad(c.result.label(), 6), c.detail);
        out.push_str(line.trim_end());
        out.push('\n');
        if let Some(fix) = &c.fix {
            out.push_str(&format!("{}  fix: {fix}\n", " ".repeat(width + 8)));
        }
    }
    let status = status(checks);
    out.push_str(&format!(
        "preflight {}: {} failed, {} warnings, {} ok, {} not needed (exit {})\n",
        status.as_str(),
        count(checks, Level::Fail),
        count(checks, Level::Warn),
        count(checks, Level::Ok),
        count(checks, Level::Skip),
        status.exit_code()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks() -> Vec<Check> {
        vec![
            Check::new("credentials", Level::Ok, "account 123456789012 in us-east-1"),
            Check::new("ec2:DisableImage", Level::Fail, "refused: UnauthorizedOperation")
                .with_fix("Grant ec2:DisableImage."),
            Check::new("topic", Level::Warn, "ALERT_TOPIC_ARN is not set").with_fix("Set ALERT_TOPIC_ARN."),
            Check::new("cost explorer", Level::Skip, "not used: DIGEST_RESERVATIONS=off"),
        ]
    }

    #[test]
    fn the_worst_check_decides_the_status_and_the_exit_code() {
        let all = checks();
        assert_eq!(status(&all), Status::Fail);
        assert_eq!(status(&all).exit_code(), 1);
        let no_fail: Vec<Check> = all.iter().filter(|c| c.result != Level::Fail).cloned().collect();
        assert_eq!((status(&no_fail), status(&no_fail).exit_code()), (Status::Warn, 3));
        let green: Vec<Check> = all.iter().filter(|c| c.result <= Level::Ok).cloned().collect();
        assert_eq!((status(&green), status(&green).exit_code()), (Status::Ok, 0));
        assert_eq!(status(&[]), Status::Ok);
    }

    #[test]
    fn the_table_aligns_its_columns_and_puts_each_fix_under_its_line() {
        let table = render(&checks());
        let expected = "\
CHECK             RESULT  DETAIL
credentials       ok      account 123456789012 in us-east-1
ec2:DisableImage  FAIL    refused: UnauthorizedOperation
                          fix: Grant ec2:DisableImage.
topic             WARN    ALERT_TOPIC_ARN is not set
                          fix: Set ALERT_TOPIC_ARN.
cost explorer     skip    not used: DIGEST_RESERVATIONS=off
preflight fail: 1 failed, 1 warnings, 1 ok, 1 not needed (exit 1)
";
        assert_eq!(table, expected);
    }
}

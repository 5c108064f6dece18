//! The configuration's one error: the variable, its flag, what was wrong and the fix,
//! on one line, because the person reading it is usually looking at a Lambda console,
//! not at this code. And the small readers every check shares.

use super::raw::{flag_of, flags};

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub struct ConfigError {
    pub var: &'static str,
    /// The variable's long flag, from clap's definition of [`RawConfig`]; `None` only
    /// for a variable that has no flag.
    pub flag: Option<&'static str>,
    pub problem: String,
    pub fix: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.flag {
            Some(flag) => write!(f, "{} (--{flag}): {}. {}", self.var, self.problem, self.fix),
            None => write!(f, "{}: {}. {}", self.var, self.problem, self.fix),
        }
    }
}

pub(super) fn err(var: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> ConfigError {
    ConfigError { var, flag: flag_of(var), problem: problem.into(), fix: fix.into() }
}

/// The first configuration variable whose value is not UTF-8. Checked before clap reads
/// the environment, whose own message would not name the variable.
pub fn check_env_is_utf8() -> Result<(), ConfigError> {
    for var in flags().keys() {
        if std::env::var_os(var).is_some_and(|v| v.to_str().is_none()) {
            return Err(err(var.as_str(), "is not valid UTF-8", "Set it to a UTF-8 value, or unset it."));
        }
    }
    Ok(())
}

/// Empty and whitespace-only values count as unset: CloudFormation templates often
/// pass `""` for an optional parameter.
pub(super) fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub(super) fn integer<T>(var: &'static str, raw: &Option<String>, default: T, min: T, max: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(s) = present(raw) else {
        return Ok(default);
    };
    match s.parse::<T>() {
        Ok(v) if v >= min && v <= max => Ok(v),
        _ => Err(err(
            var,
            format!("{} is not a whole number from {min} to {max}", shown(s)),
            format!("Set it to a value from {min} to {max}, or unset it for the default {default}."),
        )),
    }
}

/// A token refill rate: a positive number of calls per second (fractions allowed).
pub(super) fn rate(var: &'static str, raw: &Option<String>, default: f64) -> Result<f64, ConfigError> {
    let Some(s) = present(raw) else {
        return Ok(default);
    };
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.01..=100_000.0).contains(&v) => Ok(v),
        _ => Err(err(
            var,
            format!("{} is not a rate in calls per second from 0.01 to 100000", shown(s)),
            format!(
                "Set it to the refill rate of the account's EC2 token bucket, or unset it for AWS's default {default}."
            ),
        )),
    }
}

/// A value as shown in a message: debug-quoted (control characters escaped, so the
/// message stays one line) and cut at 64 characters whatever its length.
pub(super) fn shown(s: &str) -> String {
    if s.chars().count() <= 64 {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(64).collect();
        format!("{head:?}… ({} bytes)", s.len())
    }
}

//! `RETIRE_*`: the retirement pipeline's settings (see README "Retirement"), validated
//! up front like every other variable.

use clap::Args;

use super::values::{boolean, shown};
use super::{ConfigError, err, integer, present};
use crate::core::retire_model::{RetireMode, RetireSettings};

/// Raw `RETIRE_*` values, flattened into [`super::RawConfig`].
#[derive(Debug, Clone, Default, Args)]
pub struct RawRetire {
    /// off (default) | dry-run (decide, archive and announce "would …", change nothing) | enforce.
    #[arg(long, global = true, env = "RETIRE_MODE")]
    pub retire_mode: Option<String>,
    /// Days an AMI is a candidate before it is deprecated (0–365; 0 = at once).
    #[arg(long, global = true, env = "RETIRE_DEPRECATE_AFTER_DAYS")]
    pub retire_deprecate_after_days: Option<String>,
    /// Days between deprecating an AMI and its deprecation time (0–365).
    #[arg(long, global = true, env = "RETIRE_DEPRECATION_NOTICE_DAYS")]
    pub retire_deprecation_notice_days: Option<String>,
    /// Days an AMI stays deprecated (still a candidate) before it is disabled (1–365).
    #[arg(long, global = true, env = "RETIRE_DISABLE_AFTER_DAYS")]
    pub retire_disable_after_days: Option<String>,
    /// Days an AMI stays disabled (still a candidate) before it is deregistered (1–365).
    #[arg(long, global = true, env = "RETIRE_DEREGISTER_AFTER_DAYS")]
    pub retire_deregister_after_days: Option<String>,
    /// Deregister only AMIs a Recycle Bin rule covers (true, default) or any (false).
    #[arg(long, global = true, env = "RETIRE_REQUIRE_RECYCLE_BIN")]
    pub retire_require_recycle_bin: Option<String>,
    /// Delete the AMI's snapshots with it (DeleteAssociatedSnapshots; default false).
    #[arg(long, global = true, env = "RETIRE_DELETE_SNAPSHOTS")]
    pub retire_delete_snapshots: Option<String>,
    /// Forward steps (deprecate, disable, deregister) per run at most (1–1000); undos are never held back.
    #[arg(long, global = true, env = "RETIRE_MAX_ACTIONS_PER_RUN")]
    pub retire_max_actions_per_run: Option<String>,
}

fn mode(raw: &Option<String>) -> Result<RetireMode, ConfigError> {
    let Some(s) = present(raw) else {
        return Ok(RetireMode::Off);
    };
    match s.to_ascii_lowercase().as_str() {
        "off" => Ok(RetireMode::Off),
        "dry-run" => Ok(RetireMode::DryRun),
        "enforce" => Ok(RetireMode::Enforce),
        _ => Err(err(
            "RETIRE_MODE",
            format!("{} is not a retirement mode", shown(s)),
            "Set it to off, dry-run (the recommended first step) or enforce, or unset it for off.",
        )),
    }
}

impl RawRetire {
    pub fn validate(&self) -> Result<RetireSettings, ConfigError> {
        let d = RetireSettings::default();
        Ok(RetireSettings {
            mode: mode(&self.retire_mode)?,
            deprecate_after_days: integer(
                "RETIRE_DEPRECATE_AFTER_DAYS",
                &self.retire_deprecate_after_days,
                d.deprecate_after_days,
                0,
                365,
            )?,
            deprecation_notice_days: integer(
                "RETIRE_DEPRECATION_NOTICE_DAYS",
                &self.retire_deprecation_notice_days,
                d.deprecation_notice_days,
                0,
                365,
            )?,
            disable_after_days: integer(
                "RETIRE_DISABLE_AFTER_DAYS",
                &self.retire_disable_after_days,
                d.disable_after_days,
                1,
                365,
            )?,
            deregister_after_days: integer(
                "RETIRE_DEREGISTER_AFTER_DAYS",
                &self.retire_deregister_after_days,
                d.deregister_after_days,
                1,
                365,
            )?,
            require_recycle_bin: boolean(
                "RETIRE_REQUIRE_RECYCLE_BIN",
                &self.retire_require_recycle_bin,
                d.require_recycle_bin,
            )?,
            delete_snapshots: boolean("RETIRE_DELETE_SNAPSHOTS", &self.retire_delete_snapshots, d.delete_snapshots)?,
            max_actions_per_run: integer(
                "RETIRE_MAX_ACTIONS_PER_RUN",
                &self.retire_max_actions_per_run,
                d.max_actions_per_run,
                1,
                1000,
            )?,
        })
    }
}

#[cfg(test)]
#[path = "config_retire_tests.rs"]
mod tests;

//! `RETIRE_*`: the retirement pipeline's settings (see docs/retirement.md), validated
//! up front like every other variable.

use super::error::{ConfigError, err, integer, present, shown};
use super::raw::RawRetire;
use super::values::boolean;
use crate::core::retire::{RetireMode, RetireSettings};

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
            min_recycle_bin_days: integer(
                "RETIRE_MIN_RECYCLE_BIN_DAYS",
                &self.retire_min_recycle_bin_days,
                d.min_recycle_bin_days,
                1,
                365,
            )?,
        })
    }
}

#[cfg(test)]
#[path = "retire_tests.rs"]
mod tests;

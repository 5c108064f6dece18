use clap::Parser;
use proptest::prelude::*;

use super::super::raw::{RawConfig, flag_of};
use super::*;

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    config: RawConfig,
}

fn with(var: &str, value: &str) -> Result<RetireSettings, ConfigError> {
    let flag = flag_of(var).expect("a flag");
    let flags = Flags::try_parse_from(["t".to_string(), format!("--{flag}={value}")]).expect("clap takes any string");
    flags.config.validate().map(|c| c.retire)
}

#[test]
fn unset_means_off_with_the_documented_defaults() {
    assert_eq!(RawConfig::default().validate().unwrap().retire, RetireSettings::default());
}

#[test]
fn every_variable_has_its_flag() {
    for (var, flag) in [
        ("RETIRE_MODE", "retire-mode"),
        ("RETIRE_DEPRECATE_AFTER_DAYS", "retire-deprecate-after-days"),
        ("RETIRE_DEPRECATION_NOTICE_DAYS", "retire-deprecation-notice-days"),
        ("RETIRE_DISABLE_AFTER_DAYS", "retire-disable-after-days"),
        ("RETIRE_DEREGISTER_AFTER_DAYS", "retire-deregister-after-days"),
        ("RETIRE_REQUIRE_RECYCLE_BIN", "retire-require-recycle-bin"),
        ("RETIRE_DELETE_SNAPSHOTS", "retire-delete-snapshots"),
        ("RETIRE_MAX_ACTIONS_PER_RUN", "retire-max-actions-per-run"),
        ("RETIRE_MIN_RECYCLE_BIN_DAYS", "retire-min-recycle-bin-days"),
    ] {
        assert_eq!(flag_of(var), Some(flag));
    }
}

#[test]
fn modes_and_switches_parse() {
    assert_eq!(with("RETIRE_MODE", "dry-run").unwrap().mode, RetireMode::DryRun);
    assert_eq!(with("RETIRE_MODE", " Enforce ").unwrap().mode, RetireMode::Enforce);
    assert_eq!(with("RETIRE_MODE", "off").unwrap().mode, RetireMode::Off);
    assert!(!with("RETIRE_REQUIRE_RECYCLE_BIN", "false").unwrap().require_recycle_bin);
    assert!(with("RETIRE_DELETE_SNAPSHOTS", "true").unwrap().delete_snapshots);
    assert_eq!(with("RETIRE_DEPRECATE_AFTER_DAYS", "0").unwrap().deprecate_after_days, 0);
    assert_eq!(with("RETIRE_MAX_ACTIONS_PER_RUN", "1000").unwrap().max_actions_per_run, 1000);
    assert_eq!(with("RETIRE_MIN_RECYCLE_BIN_DAYS", "1").unwrap().min_recycle_bin_days, 1);
    assert_eq!(with("RETIRE_MIN_RECYCLE_BIN_DAYS", "365").unwrap().min_recycle_bin_days, 365);
}

#[test]
fn bad_values_name_the_variable_the_flag_and_the_fix() {
    let cases = [
        ("RETIRE_MODE", "dryrun", "off, dry-run"),
        ("RETIRE_MODE", "on", "off, dry-run"),
        ("RETIRE_DEPRECATE_AFTER_DAYS", "366", "0 to 365"),
        ("RETIRE_DEPRECATION_NOTICE_DAYS", "-1", "0 to 365"),
        ("RETIRE_DISABLE_AFTER_DAYS", "0", "1 to 365"),
        ("RETIRE_DEREGISTER_AFTER_DAYS", "0", "1 to 365"),
        ("RETIRE_REQUIRE_RECYCLE_BIN", "maybe", "true or false"),
        ("RETIRE_DELETE_SNAPSHOTS", "2", "true or false"),
        ("RETIRE_MAX_ACTIONS_PER_RUN", "0", "1 to 1000"),
        ("RETIRE_MAX_ACTIONS_PER_RUN", "1001", "1 to 1000"),
        ("RETIRE_MIN_RECYCLE_BIN_DAYS", "0", "1 to 365"),
        ("RETIRE_MIN_RECYCLE_BIN_DAYS", "366", "1 to 365"),
        ("RETIRE_MIN_RECYCLE_BIN_DAYS", "30d", "1 to 365"),
    ];
    for (var, value, fix) in cases {
        let e = with(var, value).unwrap_err();
        let text = e.to_string();
        assert_eq!(e.var, var);
        assert!(text.starts_with(&format!("{var} (--{}): ", flag_of(var).unwrap())), "{text}");
        assert!(text.contains(fix), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}

proptest! {
    #[test]
    fn day_counts_are_accepted_exactly_inside_their_ranges(n in -5i64..400) {
        for (var, min) in [
            ("RETIRE_DEPRECATE_AFTER_DAYS", 0),
            ("RETIRE_DISABLE_AFTER_DAYS", 1),
            ("RETIRE_DEREGISTER_AFTER_DAYS", 1),
            ("RETIRE_MIN_RECYCLE_BIN_DAYS", 1),
        ] {
            let result = with(var, &n.to_string());
            prop_assert_eq!(result.is_ok(), (min..=365).contains(&n), "{} = {}", var, n);
        }
    }

    #[test]
    fn any_mode_text_is_a_mode_or_named(s in "\\PC{0,12}") {
        match with("RETIRE_MODE", &s) {
            Ok(settings) => prop_assert!(
                ["off", "dry-run", "enforce", ""].contains(&s.trim().to_ascii_lowercase().as_str()),
                "{:?} -> {:?}", s, settings.mode
            ),
            Err(e) => prop_assert_eq!(e.var, "RETIRE_MODE"),
        }
    }
}

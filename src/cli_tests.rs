use chrono::TimeZone;

use super::*;

fn real() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 6, 0, 0).unwrap()
}

fn message(args: &[&str]) -> String {
    let e = Cli::try_parse_from(std::iter::once("ami-usage-reporter").chain(args.iter().copied())).unwrap_err();
    usage_message(&e).expect("a usage error")
}

#[test]
fn the_subcommands_are_the_phases() {
    let names: Vec<String> = Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect();
    assert_eq!(names, Phase::ALL.map(|p| p.as_str().to_string()));
    for p in Phase::ALL {
        let cli = Cli::try_parse_from(["ami-usage-reporter", p.as_str()]).unwrap();
        assert_eq!(cli.command.phase(), p);
    }
}

#[test]
fn a_wrong_or_missing_phase_lists_the_phases_on_one_line() {
    let line = message(&["purge"]);
    assert!(line.starts_with("error: unrecognized subcommand 'purge'"), "{line}");
    assert!(line.ends_with("the phases are create, collect, probe, digest, preflight"), "{line}");
    assert_eq!(message(&[]), "error: no phase given: the phases are create, collect, probe, digest, preflight");
}

#[test]
fn a_bad_time_budget_names_the_flag_and_the_range() {
    for bad in ["-1", "0", "ten", "604801", "18446744073709551616", "1.5", ""] {
        let line = message(&["create", "--time-budget", bad]);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("--time-budget") && line.contains("from 1 to 604800"), "{bad}: {line}");
    }
    let cli = Cli::try_parse_from(["ami-usage-reporter", "create", "--time-budget", "604800"]).unwrap();
    assert_eq!(cli.time_budget, Some(MAX_TIME_BUDGET));
}

#[test]
fn now_is_the_real_clock_unless_given() {
    assert_eq!(run_clock(None, false, real()), Ok(real()));
    let backfill = real() - TimeDelta::days(NOW_DAYS_BEFORE);
    assert_eq!(run_clock(Some(backfill), false, real()), Ok(backfill));
    let ahead = real() + TimeDelta::days(NOW_DAYS_AFTER);
    assert_eq!(run_clock(Some(ahead), false, real()), Ok(ahead));
}

#[test]
fn now_outside_the_window_needs_allow_any_now() {
    let far = [
        real() - TimeDelta::days(NOW_DAYS_BEFORE) - TimeDelta::seconds(1),
        real() + TimeDelta::days(NOW_DAYS_AFTER) + TimeDelta::seconds(1),
        Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
    ];
    for now in far {
        let e = run_clock(Some(now), false, real()).unwrap_err();
        assert!(e.starts_with("--now ") && e.contains("--allow-any-now") && !e.contains('\n'), "{e}");
        assert!(e.contains("2025-10-28 to 2027-02-02"), "{e}");
        assert_eq!(run_clock(Some(now), true, real()), Ok(now));
    }
    // The window itself cannot overflow, whatever the real clock says.
    assert!(run_clock(Some(real()), false, DateTime::<Utc>::MAX_UTC).is_err());
    assert!(run_clock(Some(real()), false, DateTime::<Utc>::MIN_UTC).is_err());
}

#[test]
fn allow_any_now_is_a_flag_of_every_phase() {
    let cli =
        Cli::try_parse_from(["ami-usage-reporter", "collect", "--allow-any-now", "--now", "1970-01-01T00:00:00Z"])
            .unwrap();
    assert!(cli.allow_any_now && cli.now.is_some());
}

#[test]
fn an_argument_that_is_not_utf8_is_named_by_its_flag() {
    use std::os::unix::ffi::OsStringExt;
    let bad = || OsString::from_vec(b"a\xffb".to_vec());
    let args = |rest: Vec<OsString>| [vec![OsString::from("ami-usage-reporter"), "create".into()], rest].concat();
    let line = non_utf8_argument(&args(vec!["--archive-prefix".into(), bad()])).unwrap();
    assert_eq!(line, "error: the value of --archive-prefix is not valid UTF-8: give it in UTF-8");
    let mut joined = OsString::from("--archive-prefix=");
    joined.push(bad());
    assert!(non_utf8_argument(&args(vec![joined])).unwrap().contains("--archive-prefix is not"));
    assert!(non_utf8_argument(&args(vec![bad()])).unwrap().contains("value of an argument"));
    assert_eq!(non_utf8_argument(&args(vec!["--archive-prefix".into(), "ok".into()])), None);
}

proptest::proptest! {
    /// Any two instants chrono can hold: no panic, and `--now` is taken exactly when it
    /// is inside the window (or `--allow-any-now`).
    #[test]
    fn the_now_window_is_exact_and_never_panics(
        now_s in -8_210_266_876_800_i64..8_210_266_876_799, real_s in -8_210_266_876_800_i64..8_210_266_876_799,
        allow in proptest::bool::ANY,
    ) {
        let (now, real) = (DateTime::from_timestamp(now_s, 0).unwrap(), DateTime::from_timestamp(real_s, 0).unwrap());
        let inside = (real_s - NOW_DAYS_BEFORE * 86_400..=real_s + NOW_DAYS_AFTER * 86_400).contains(&now_s);
        let result = run_clock(Some(now), allow, real);
        proptest::prop_assert_eq!(result.is_ok(), inside || allow);
        if let Ok(t) = result {
            proptest::prop_assert_eq!(t, now);
        }
    }

    /// Any text: a budget exactly when it is a whole number of seconds from 1 to a week.
    #[test]
    fn the_time_budget_is_exactly_a_whole_number_in_range(s in "-?[0-9]{1,21}|[ a-z.+-]{0,6}") {
        let expected = s.parse::<u64>().ok().filter(|n| (1..=MAX_TIME_BUDGET).contains(n));
        proptest::prop_assert_eq!(parse_time_budget(&s).ok(), expected);
    }
}

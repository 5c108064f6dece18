//! Properties of every configuration parser: whatever the value, no panic; a value of
//! the documented grammar is accepted; every rejection is one line naming the variable
//! and its flag.

use clap::Parser;
use proptest::prelude::*;

use super::raw::{flag_of, flags};
use super::values::{is_account_id, partition_of, validate_bucket, validate_prefix, validate_topic_arn};
use super::*;

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    config: RawConfig,
}

/// Sets one variable through its own flag, as a user would.
fn with(var: &str, value: &str) -> RawConfig {
    let flag = flag_of(var).expect("a flag");
    Flags::try_parse_from(["t".to_string(), format!("--{flag}={value}")]).expect("clap takes any string").config
}

fn assert_names(e: &ConfigError, var: &str) -> Result<(), TestCaseError> {
    let text = e.to_string();
    prop_assert_eq!(e.var, var);
    prop_assert!(text.starts_with(&format!("{var} (--{}): ", flag_of(var).unwrap())), "{}", text);
    prop_assert!(!text.contains('\n') && !text.contains('\r'), "{}", text);
    prop_assert!(text.len() < 700, "{} bytes", text.len());
    Ok(())
}

fn any_var() -> impl Strategy<Value = &'static str> {
    let vars: Vec<&'static str> = flags().keys().map(String::as_str).collect();
    proptest::sample::select(vars)
}

/// Text with the characters that break parsers: separators, controls, quotes, non-ASCII.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z0-9=,|:/.\\- \t\n\"\\\\\u{0}\u{7f}\u{85}é]{0,40}", "[0-9+\\-.eE]{0,24}",]
}

fn valid_bucket() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]".prop_filter("S3's other rules", |b| {
        let ip = b.split('.').count() == 4 && b.split('.').all(|p| p.parse::<u8>().is_ok());
        let reserved = ["xn--", "sthree-", "amzn-s3-demo-"].iter().any(|p| b.starts_with(p))
            || ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].iter().any(|s| b.ends_with(s));
        !(b.contains("..") || ip || reserved)
    })
}

fn valid_region() -> impl Strategy<Value = String> {
    ("[a-z]{2}", proptest::collection::vec("[a-z]{1,9}", 1..3), 1..100u8)
        .prop_map(|(area, words, n)| format!("{area}-{}-{n}", words.join("-")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_value_of_any_variable_is_accepted_or_named(var in any_var(), value in hostile_text()) {
        // A value can also break a rule between two variables (UNUSED_MIN_DAYS below the
        // default MIN_REPORTS): the error then names the other one and mentions this one.
        if let Err(e) = with(var, &value).validate() {
            assert_names(&e, e.var)?;
            prop_assert!(e.var == var || e.to_string().contains(var), "{}: {}", var, e);
        }
    }

    #[test]
    fn buckets_of_the_grammar_are_accepted(b in valid_bucket()) {
        prop_assert_eq!(validate_bucket(&b), Ok(()));
    }

    #[test]
    fn buckets_outside_the_grammar_are_refused(b in valid_bucket(), at in any::<prop::sample::Index>(),
                                                 odd in "[A-Z_ /:@]|\\.\\.") {
        let i = at.index(b.len() + 1);
        assert_names(&validate_bucket(&format!("{}{odd}{}", &b[..i], &b[i..])).unwrap_err(), "ARCHIVE_BUCKET")?;
        assert_names(&validate_bucket(&format!("xn--{b}")).unwrap_err(), "ARCHIVE_BUCKET")?;
        assert_names(&validate_bucket(&format!("{b}--ol-s3")).unwrap_err(), "ARCHIVE_BUCKET")?;
        assert_names(&validate_bucket(&format!("{b}{}", "a".repeat(64 - b.len()))).unwrap_err(), "ARCHIVE_BUCKET")?;
    }

    #[test]
    fn prefixes_of_safe_segments_are_accepted(segments in proptest::collection::vec("[A-Za-z0-9!_*'()=-][A-Za-z0-9!_.*'()=-]{0,30}", 1..8)) {
        let p = segments.join("/");
        prop_assert_eq!(validate_prefix(&format!("/{p}/")), Ok(p));
    }

    #[test]
    fn prefixes_with_a_control_or_unsafe_character_are_refused(p in "[a-z]{1,10}", c in "[\u{0}-\u{1f}\u{7f} #%\\\\{}^`\\[\\]\"<>|~&$@;:+,?é]") {
        assert_names(&validate_prefix(&format!("{p}{c}{p}")).unwrap_err(), "ARCHIVE_PREFIX")?;
    }

    #[test]
    fn regions_of_the_grammar_are_accepted_as_bucket_regions(r in valid_region()) {
        let c = with("ARCHIVE_BUCKET_REGION", &r).validate();
        prop_assert_eq!(c.map(|c| c.archive_bucket_region), Ok(Some(r)));
    }

    #[test]
    fn topic_arns_of_the_grammar_are_accepted_in_their_region(
        r in valid_region(), account in "[0-9]{12}", name in "[A-Za-z0-9_-]{1,256}"
    ) {
        let arn = format!("arn:{}:sns:{r}:{account}:{name}", partition_of(&r));
        prop_assert_eq!(validate_topic_arn(&arn), Ok(()));
        let config = with("ALERT_TOPIC_ARN", &arn).validate().unwrap();
        prop_assert_eq!(config.check_function_region(&r), Ok(()));
    }

    #[test]
    fn tag_filters_of_the_grammar_round_trip(
        filters in proptest::collection::btree_map("[A-Za-z0-9:/@+.-][A-Za-z0-9 :/@+._-]{0,40}[A-Za-z0-9]",
                                                   proptest::collection::vec("[A-Za-z0-9:/@+._-]{1,50}", 1..4), 1..5)
    ) {
        let text: Vec<String> = filters.iter().map(|(k, vs)| format!("{k}={}", vs.join("|"))).collect();
        let parsed = parse_tag_filters(&text.join(",")).unwrap();
        let back: Vec<(String, Vec<String>)> = parsed.0.into_iter().map(|f| (f.key, f.values)).collect();
        prop_assert_eq!(back, filters.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn account_lists_of_the_grammar_are_accepted(ids in proptest::collection::btree_set("[0-9]{12}", 0..200)) {
        let text = ids.iter().cloned().collect::<Vec<_>>().join(" , ");
        prop_assert_eq!(parse_account_ids(&text).unwrap(), ids.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn account_lists_with_one_bad_id_are_refused(ids in proptest::collection::vec("[0-9]{12}", 0..5),
                                                   bad in "[0-9]{0,11}[a-z+ -]?|[0-9]{13,14}") {
        prop_assume!(!is_account_id(bad.trim()) && !bad.trim().is_empty());
        let text = ids.iter().cloned().chain([bad]).collect::<Vec<_>>().join(",");
        assert_names(&parse_account_ids(&text).unwrap_err(), "REPORT_ACCOUNT_IDS")?;
    }

    #[test]
    fn whole_numbers_are_accepted_exactly_inside_their_range(n in any::<i64>()) {
        let result = with("KEEP_NEWEST", &n.to_string()).validate();
        if (0..=100).contains(&n) {
            prop_assert_eq!(result.unwrap().verdict.keep_newest, n as u32);
        } else {
            assert_names(&result.unwrap_err(), "KEEP_NEWEST")?;
        }
    }
}

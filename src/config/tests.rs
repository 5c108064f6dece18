use super::raw::{flag_of, flags};
use super::values::{MAX_PREFIX_BYTES, validate_bucket, validate_prefix, validate_topic_arn};
use super::*;
use crate::core::create::TagFilter;
use crate::core::verdict::{TagMatch, VerdictSettings};

fn raw() -> RawConfig {
    RawConfig::default()
}

#[test]
fn defaults_are_documented_values() {
    let c = raw().validate().unwrap();
    assert_eq!(c.archive_prefix, "ami-usage");
    assert_eq!(c.launch_template_version_depth, 20);
    assert!(c.report_account_ids.is_empty());
    assert!(c.tag_filters.0.is_empty());
    assert_eq!(c.pending_alert_hours, 24);
    assert_eq!(c.expiry_warning_days, 7);
    assert!(c.archive_bucket.is_none());
    assert_eq!(c.require_bucket().unwrap_err().var, "ARCHIVE_BUCKET");
}

#[test]
fn verdict_settings_default_and_parse() {
    let v = raw().validate().unwrap().verdict;
    assert_eq!(v, VerdictSettings::default());
    assert_eq!((v.unused_min_days, v.min_reports, v.min_age_days, v.keep_newest), (30, 3, 30, 1));
    assert_eq!(v.max_candidate_percent, 50);
    assert_eq!(v.exclude_tag, TagMatch { key: "ami-usage-reporter:keep".into(), value: None });
    assert_eq!(v.group_tag, None);
    let v = RawConfig {
        unused_min_days: Some("14".into()),
        min_reports: Some("2".into()),
        min_age_days: Some("0".into()),
        exclude_tag: Some("Retain = yes".into()),
        group_tag: Some("Family".into()),
        keep_newest: Some("3".into()),
        max_candidate_percent: Some("100".into()),
        ..raw()
    }
    .validate()
    .unwrap()
    .verdict;
    assert_eq!(v.exclude_tag, TagMatch { key: "Retain".into(), value: Some("yes".into()) });
    assert_eq!((v.unused_min_days, v.min_reports, v.min_age_days, v.keep_newest), (14, 2, 0, 3));
    assert_eq!((v.group_tag.as_deref(), v.max_candidate_percent), (Some("Family"), 100));
}

#[test]
fn bad_verdict_settings_name_the_variable_and_flag() {
    let cases: [(RawConfig, &str); 8] = [
        (RawConfig { unused_min_days: Some("0".into()), ..raw() }, "UNUSED_MIN_DAYS"),
        (RawConfig { unused_min_days: Some("a month".into()), ..raw() }, "UNUSED_MIN_DAYS"),
        (RawConfig { min_reports: Some("0".into()), ..raw() }, "MIN_REPORTS"),
        (RawConfig { min_reports: Some("31".into()), ..raw() }, "MIN_REPORTS"),
        (RawConfig { min_age_days: Some("-1".into()), ..raw() }, "MIN_AGE_DAYS"),
        (RawConfig { exclude_tag: Some("=yes".into()), ..raw() }, "EXCLUDE_TAG"),
        (RawConfig { keep_newest: Some("101".into()), ..raw() }, "KEEP_NEWEST"),
        (RawConfig { max_candidate_percent: Some("0".into()), ..raw() }, "MAX_CANDIDATE_PERCENT"),
    ];
    for (r, var) in cases {
        let e = r.validate().unwrap_err();
        assert_eq!(e.var, var);
        assert!(e.to_string().contains(&format!("--{}", flag_of(var).unwrap())), "{e}");
    }
}

#[test]
fn tag_filters_parse_keys_and_alternatives() {
    let f = parse_tag_filters("Team=platform, Golden=true|yes").unwrap();
    assert_eq!(
        f.0,
        vec![
            TagFilter { key: "Team".into(), values: vec!["platform".into()] },
            TagFilter { key: "Golden".into(), values: vec!["true".into(), "yes".into()] },
        ]
    );
}

#[test]
fn bad_tag_filters_name_the_problem() {
    for (input, needle) in [
        ("Team", "has no '='"),
        ("=x", "empty tag key"),
        ("Team=", "empty value"),
        ("Team=a||b", "empty value"),
        ("Team=a,Team=b", "appears twice"),
    ] {
        let e = parse_tag_filters(input).unwrap_err();
        assert_eq!(e.var, "AMI_TAG_FILTERS");
        assert!(e.to_string().contains(needle), "{input}: {e}");
        assert!(e.to_string().contains("--ami-tag-filters"), "{e}");
    }
}

#[test]
fn depth_must_be_in_range() {
    for bad in ["0", "10001", "-1", "twenty", "2.5"] {
        let r = RawConfig { launch_template_version_depth: Some(bad.into()), ..raw() };
        let e = r.validate().unwrap_err();
        assert_eq!(e.var, "LAUNCH_TEMPLATE_VERSION_DEPTH", "{bad}");
        assert!(e.to_string().contains("from 1 to 10000"), "{e}");
    }
    let r = RawConfig { launch_template_version_depth: Some("10000".into()), ..raw() };
    assert_eq!(r.validate().unwrap().launch_template_version_depth, 10000);
}

#[test]
fn account_ids_are_twelve_digits_and_at_most_200() {
    assert_eq!(
        parse_account_ids("111122223333, 444455556666,111122223333").unwrap(),
        vec!["111122223333", "444455556666"]
    );
    assert!(parse_account_ids("12345").unwrap_err().to_string().contains("12-digit"));
    assert!(parse_account_ids("11112222333a").is_err());
    let many: Vec<String> = (0..201).map(|i| format!("{i:012}")).collect();
    let e = parse_account_ids(&many.join(",")).unwrap_err();
    assert!(e.to_string().contains("at most 200"), "{e}");
    let ok: Vec<String> = (0..200).map(|i| format!("{i:012}")).collect();
    assert_eq!(parse_account_ids(&ok.join(",")).unwrap().len(), 200);
}

#[test]
fn bucket_prefix_and_topic_are_checked() {
    let e = RawConfig { archive_bucket: Some("s3://my-bucket".into()), ..raw() }.validate().unwrap_err();
    assert_eq!(e.var, "ARCHIVE_BUCKET");
    let e = RawConfig { archive_prefix: Some("a//b".into()), ..raw() }.validate().unwrap_err();
    assert_eq!(e.var, "ARCHIVE_PREFIX");
    let c = RawConfig { archive_prefix: Some("/x/y/".into()), ..raw() }.validate().unwrap();
    assert_eq!(c.archive_prefix, "x/y");
    let e = RawConfig { alert_topic_arn: Some("my-topic".into()), ..raw() }.validate().unwrap_err();
    assert_eq!(e.var, "ALERT_TOPIC_ARN");
    let c = RawConfig { alert_topic_arn: Some("arn:aws:sns:eu-west-1:123456789012:alerts".into()), ..raw() }
        .validate()
        .unwrap();
    assert!(c.alert_topic_arn.is_some());
}

#[test]
fn empty_values_mean_unset() {
    let c = RawConfig {
        archive_bucket: Some("  ".into()),
        report_account_ids: Some("".into()),
        launch_template_version_depth: Some("".into()),
        ..raw()
    }
    .validate()
    .unwrap();
    assert!(c.archive_bucket.is_none());
    assert_eq!(c.launch_template_version_depth, 20);
}

#[test]
fn negative_or_silly_numbers_are_rejected() {
    let e = RawConfig { pending_alert_hours: Some("-3".into()), ..raw() }.validate().unwrap_err();
    assert_eq!(e.var, "PENDING_ALERT_HOURS");
    let e = RawConfig { expiry_warning_days: Some("30".into()), ..raw() }.validate().unwrap_err();
    assert_eq!(e.var, "EXPIRY_WARNING_DAYS");
    let e = RawConfig { snapshot_gb_month_usd: Some("-0.1".into()), ..raw() }.validate().unwrap_err();
    assert_eq!(e.var, "SNAPSHOT_GB_MONTH_USD");
    let e = RawConfig { s3_force_path_style: Some("maybe".into()), ..raw() }.validate().unwrap_err();
    assert_eq!(e.var, "S3_FORCE_PATH_STYLE");
}

#[test]
fn ec2_rates_default_to_aws_buckets_and_accept_raised_limits() {
    let c = raw().validate().unwrap();
    assert_eq!(c.ec2_rates.mutating, Rate { per_second: 5.0, burst: 50 });
    assert_eq!(c.ec2_rates.non_mutating, Rate { per_second: 20.0, burst: 100 });
    let c = RawConfig {
        ec2_mutating_rate: Some("12.5".into()),
        ec2_mutating_burst: Some("200".into()),
        ec2_describe_rate: Some("0.5".into()),
        ec2_describe_burst: Some("1".into()),
        ..raw()
    }
    .validate()
    .unwrap();
    assert_eq!(c.ec2_rates.mutating, Rate { per_second: 12.5, burst: 200 });
    assert_eq!(c.ec2_rates.non_mutating, Rate { per_second: 0.5, burst: 1 });
}

#[test]
fn bad_ec2_rates_name_the_variable_and_flag() {
    for bad in ["0", "-5", "fast", "NaN", "inf", "1e9"] {
        let e = RawConfig { ec2_mutating_rate: Some(bad.into()), ..raw() }.validate().unwrap_err();
        assert_eq!(e.var, "EC2_MUTATING_RATE", "{bad}");
        assert!(e.to_string().contains("--ec2-mutating-rate"), "{e}");
        assert!(e.to_string().contains("calls per second"), "{e}");
    }
    let e = RawConfig { ec2_describe_rate: Some("0".into()), ..raw() }.validate().unwrap_err();
    assert_eq!(e.var, "EC2_DESCRIBE_RATE");
    for bad in ["0", "2.5", "-1"] {
        let e = RawConfig { ec2_mutating_burst: Some(bad.into()), ..raw() }.validate().unwrap_err();
        assert_eq!(e.var, "EC2_MUTATING_BURST", "{bad}");
        let e = RawConfig { ec2_describe_burst: Some(bad.into()), ..raw() }.validate().unwrap_err();
        assert_eq!(e.var, "EC2_DESCRIBE_BURST", "{bad}");
    }
}

#[test]
fn archive_bucket_region_defaults_to_the_functions_region_and_accepts_every_partition() {
    assert_eq!(raw().validate().unwrap().archive_bucket_region, None);
    let c = RawConfig { archive_bucket_region: Some("  ".into()), ..raw() }.validate().unwrap();
    assert_eq!(c.archive_bucket_region, None);
    for ok in [
        "eu-west-1",
        "us-east-1",
        "us-gov-west-1",
        "cn-north-1",
        "ap-southeast-7",
        "eu-central-2",
        "il-central-1",
        "eusc-de-east-1",
    ] {
        let c = RawConfig { archive_bucket_region: Some(format!(" {ok} ")), ..raw() }.validate().unwrap();
        assert_eq!(c.archive_bucket_region.as_deref(), Some(ok));
    }
}

#[test]
fn bad_archive_bucket_region_names_the_variable_flag_and_fix() {
    for bad in [
        "eu-west",
        "EU-WEST-1",
        "euwest1",
        "eu-west-0",
        "eu-west-01",
        "eu--west-1",
        "europe-west-1",
        "s3.eu-west-1.amazonaws.com",
        "arn:aws:s3:::bucket",
        "eu-west-1a",
        "eu-west-+1",
        "-1",
    ] {
        let e = RawConfig { archive_bucket_region: Some(bad.into()), ..raw() }.validate().unwrap_err();
        assert_eq!(e.var, "ARCHIVE_BUCKET_REGION", "{bad}");
        let text = e.to_string();
        assert!(text.contains("--archive-bucket-region"), "{text}");
        assert!(text.contains("not an AWS Region code") && text.contains("e.g. eu-west-1"), "{text}");
    }
}

#[test]
fn probe_account_lists_are_twelve_digit_ids_and_member_probes_need_organisation_mode() {
    let org = |ids: &str| RawConfig {
        archive_prefix: Some("ami-usage/account=123456789012".into()),
        require_member_probes: Some(ids.into()),
        probe_owner_account_ids: Some(ids.into()),
        ..raw()
    };
    let c = org(" 111111111111, 222222222222,111111111111 ").validate().unwrap();
    assert_eq!(c.require_member_probes, ["111111111111", "222222222222"]);
    assert_eq!(c.probe_owner_account_ids, ["111111111111", "222222222222"]);
    assert_eq!(raw().validate().unwrap().require_probe_owners().unwrap_err().var, "PROBE_OWNER_ACCOUNT_IDS");

    let many = (0..101).map(|i| format!("{:012}", 100_000_000_000u64 + i)).collect::<Vec<_>>().join(",");
    for bad in ["12345", "1111111111111", "11111111111a", ",", &many] {
        let e = RawConfig { probe_owner_account_ids: Some(bad.into()), ..raw() }.validate().unwrap_err();
        assert_eq!(e.var, "PROBE_OWNER_ACCOUNT_IDS", "{bad}");
        assert!(e.to_string().contains("--probe-owner-account-ids") && e.fix.contains("12 digits"), "{e}");
        let e = org(bad).validate().unwrap_err();
        assert!(["PROBE_OWNER_ACCOUNT_IDS", "REQUIRE_MEMBER_PROBES"].contains(&e.var), "{bad}");
        let e = RawConfig {
            archive_prefix: Some("ami-usage/account=123456789012".into()),
            require_member_probes: Some(bad.into()),
            ..raw()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.var, "REQUIRE_MEMBER_PROBES", "{bad}");
    }
    let single = RawConfig { require_member_probes: Some("111111111111".into()), ..raw() }.validate().unwrap_err();
    assert_eq!(single.var, "REQUIRE_MEMBER_PROBES");
    assert!(
        single.to_string().contains("needs organisation mode") && single.fix.contains("ARCHIVE_PREFIX"),
        "{single}"
    );
}

#[test]
fn every_variable_has_its_own_flag_from_clap() {
    use clap::Args;
    let command = RawConfig::augment_args(clap::Command::new("t"));
    let mut seen = 0;
    for arg in command.get_arguments() {
        let var = arg.get_env().and_then(|v| v.to_str()).expect("every setting has an environment variable");
        let long = arg.get_long().expect("every setting has a long flag");
        assert_eq!(long, var.to_ascii_lowercase().replace('_', "-"), "{var}");
        assert_eq!(flag_of(var), Some(long));
        seen += 1;
    }
    assert_eq!(flags().len(), seen);
    assert_eq!(flag_of("NOT_A_SETTING"), None);
}

/// Every variable the sources name (a string literal in capitals: what `err`, `integer`,
/// `rate`… are called with) is one clap knows: no error can name a variable without its flag.
#[test]
fn every_variable_the_sources_name_has_a_flag() {
    let sources = [
        include_str!("settings.rs"),
        include_str!("error.rs"),
        include_str!("values.rs"),
        include_str!("lists.rs"),
        include_str!("retire.rs"),
        include_str!("digest.rs"),
    ];
    let named: std::collections::BTreeSet<&str> = sources
        .iter()
        .flat_map(|source| source.split('"').skip(1).step_by(2))
        .filter(|lit| lit.len() >= 6 && lit.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
        .collect();
    assert!(named.len() >= flags().len(), "{named:?}");
    // The SDK's own variable, named when the Region it resolved is not a Region code.
    for var in named.iter().filter(|v| **v != "AWS_REGION") {
        assert!(flag_of(var).is_some(), "{var} has no flag");
    }
}

#[test]
fn bucket_names_follow_all_of_s3s_rules() {
    for ok in ["abc", "my-bucket", "my.bucket.1", "a1-b2.c3", "1bucket", &"a".repeat(63), "192.168.5", "xn-ok"] {
        assert_eq!(validate_bucket(ok), Ok(()), "{ok}");
    }
    for (bad, needle) in [
        ("ab", "3 to 63"),
        (&"a".repeat(64)[..], "3 to 63"),
        ("My-Bucket", "lowercase"),
        ("my_bucket", "lowercase"),
        ("my bucket", "lowercase"),
        ("-bucket", "start and end"),
        ("bucket.", "start and end"),
        ("my..bucket", "adjacent dots"),
        ("192.168.5.4", "IP address"),
        ("xn--bucket", "reserved"),
        ("sthree-bucket", "reserved"),
        ("amzn-s3-demo-bucket", "reserved"),
        ("bucket-s3alias", "reserved"),
        ("bucket--ol-s3", "reserved"),
        ("bucket.mrap", "reserved"),
        ("bucket--x-s3", "reserved"),
        ("bucket--table-s3", "reserved"),
        ("s3://bucket", "lowercase"),
    ] {
        let e = validate_bucket(bad).unwrap_err();
        assert_eq!(e.var, "ARCHIVE_BUCKET");
        assert!(e.to_string().contains(needle) && e.to_string().contains("--archive-bucket"), "{bad}: {e}");
    }
}

#[test]
fn prefixes_fit_s3_keys_and_use_safe_characters() {
    for (ok, stored) in
        [("ami-usage", "ami-usage"), ("/a/b/", "a/b"), ("org/account=123456789012/x", "org/account=123456789012/x")]
    {
        assert_eq!(validate_prefix(ok).unwrap(), stored);
    }
    assert_eq!(validate_prefix(&"p".repeat(MAX_PREFIX_BYTES)).unwrap().len(), MAX_PREFIX_BYTES);
    for (bad, needle) in [
        (&"p".repeat(MAX_PREFIX_BYTES + 1)[..], "bytes long"),
        (&"p".repeat(2000)[..], "bytes long"),
        ("a\nb", "contains '\\n'"),
        ("a\u{7f}b", "contains"),
        ("a b", "contains ' '"),
        ("a\\b", "contains"),
        ("a#b", "contains '#'"),
        ("caf\u{e9}", "contains"),
        ("a//b", "empty, '.' or '..'"),
        ("a/./b", "empty, '.' or '..'"),
        ("/", "empty, '.' or '..'"),
    ] {
        let e = validate_prefix(bad).unwrap_err();
        let text = e.to_string();
        assert_eq!(e.var, "ARCHIVE_PREFIX");
        assert!(text.contains(needle) && !text.contains('\n') && text.len() < 400, "{bad:?}: {text}");
    }
}

#[test]
fn topic_arns_are_checked_part_by_part() {
    for ok in [
        "arn:aws:sns:eu-west-1:123456789012:alerts",
        "arn:aws-cn:sns:cn-north-1:123456789012:a_b-c",
        "arn:aws-us-gov:sns:us-gov-west-1:123456789012:t",
        "arn:aws-eusc:sns:eusc-de-east-1:123456789012:t",
    ] {
        assert_eq!(validate_topic_arn(ok), Ok(()), "{ok}");
    }
    for (bad, needle) in [
        ("my-topic", "six"),
        ("arn:aws:sqs:eu-west-1:123456789012:q", "not an SNS topic ARN"),
        ("arn:aws:sns:eu-west-1:123456789012", "six"),
        ("arn:awz:sns:eu-west-1:123456789012:t", "not an AWS partition"),
        ("arn:aws:sns:eu-west:123456789012:t", "not a Region code"),
        ("arn:aws:sns:cn-north-1:123456789012:t", "Region cn-north-1 is in aws-cn"),
        ("arn:aws:sns:eu-west-1:12345678901:t", "not 12 digits"),
        ("arn:aws:sns:eu-west-1:123456789012:", "topic name"),
        ("arn:aws:sns:eu-west-1:123456789012:a.b", "topic name"),
        ("arn:aws:sns:eu-west-1:123456789012:t.fifo", "FIFO"),
    ] {
        let e = validate_topic_arn(bad).unwrap_err();
        assert_eq!(e.var, "ALERT_TOPIC_ARN");
        assert!(e.to_string().contains(needle), "{bad}: {e}");
    }
}

#[test]
fn the_topic_and_the_bucket_region_must_suit_the_functions_region() {
    let config = |topic: &str, bucket_region: Option<&str>| {
        RawConfig { alert_topic_arn: Some(topic.into()), archive_bucket_region: bucket_region.map(Into::into), ..raw() }
            .validate()
            .unwrap()
    };
    let here = config("arn:aws:sns:eu-west-1:123456789012:alerts", Some("us-east-1"));
    assert_eq!(here.check_function_region("eu-west-1"), Ok(()));
    let e = here.check_function_region("eu-central-1").unwrap_err();
    assert_eq!(e.var, "ALERT_TOPIC_ARN");
    assert!(e.to_string().contains("is in Region eu-west-1, but the function runs in eu-central-1"), "{e}");
    let e = config("arn:aws-cn:sns:cn-north-1:123456789012:a", Some("eu-west-1"))
        .check_function_region("cn-north-1")
        .unwrap_err();
    assert_eq!(e.var, "ARCHIVE_BUCKET_REGION");
    assert!(e.to_string().contains("partition aws, but the function runs in cn-north-1 (aws-cn)"), "{e}");
    assert_eq!(raw().validate().unwrap().check_function_region("ap-southeast-7"), Ok(()));
    for bad in ["us-east-1\n", "local", "", "US-EAST-1"] {
        let e = raw().validate().unwrap().check_function_region(bad).unwrap_err();
        assert_eq!((e.var, e.flag), ("AWS_REGION", None));
        assert!(e.to_string().starts_with("AWS_REGION: ") && !e.to_string().contains('\n'), "{e}");
    }
}

#[test]
fn tags_and_athena_names_keep_to_their_limits() {
    let long_key = "k".repeat(129);
    let long_value = format!("Team={}", "v".repeat(257));
    for (r, var, needle) in [
        (RawConfig { ami_tag_filters: Some(long_value.clone()), ..raw() }, "AMI_TAG_FILTERS", "longer than 256"),
        (RawConfig { ami_tag_filters: Some("Team=a\u{7}".into()), ..raw() }, "AMI_TAG_FILTERS", "control"),
        (RawConfig { exclude_tag: Some(long_key.clone()), ..raw() }, "EXCLUDE_TAG", "longer than 128"),
        (RawConfig { exclude_tag: Some(long_value), ..raw() }, "EXCLUDE_TAG", "longer than 256"),
        (RawConfig { group_tag: Some(long_key), ..raw() }, "GROUP_TAG", "longer than 128"),
        (RawConfig { group_tag: Some("Fam\nily".into()), ..raw() }, "GROUP_TAG", "control"),
        (RawConfig { athena_database: Some("db; DROP".into()), ..raw() }, "ATHENA_DATABASE", "letters, digits"),
        (RawConfig { athena_workgroup: Some("w".repeat(129)), ..raw() }, "ATHENA_WORKGROUP", "128"),
        (RawConfig { snapshot_gb_month_usd: Some("1e300".into()), ..raw() }, "SNAPSHOT_GB_MONTH_USD", "1000"),
    ] {
        let e = r.validate().unwrap_err();
        assert_eq!(e.var, var);
        assert!(e.to_string().contains(needle) && !e.to_string().contains('\n'), "{e}");
    }
    let c = RawConfig { group_tag: Some("k".repeat(128)), athena_workgroup: Some("my.wg-1".into()), ..raw() };
    assert_eq!(c.validate().unwrap().athena_workgroup, "my.wg-1");
}

#[test]
fn report_resource_types_default_to_all_four_and_reject_unknown_types() {
    let all = raw().validate().unwrap().report_resource_types;
    assert_eq!(all, ["ec2:Instance", "ec2:LaunchTemplate", "imagebuilder:ImageRecipe", "imagebuilder:ContainerRecipe"]);
    let some = RawConfig { report_resource_types: Some(" ec2:Instance ,ec2:Instance,".into()), ..raw() };
    assert_eq!(some.validate().unwrap().report_resource_types, ["ec2:Instance"]);
    for bad in ["ssm:Parameter", "ec2:instance", ",,"] {
        let e = RawConfig { report_resource_types: Some(bad.into()), ..raw() }.validate().unwrap_err();
        assert_eq!((e.var, e.flag), ("REPORT_RESOURCE_TYPES", Some("report-resource-types")), "{bad}");
        assert!(!e.to_string().contains('\n'));
    }
}

#[test]
fn max_evidence_age_is_at_least_a_day_of_daily_reports() {
    assert_eq!(raw().validate().unwrap().verdict.max_evidence_age_hours, 48);
    for (value, ok) in [("24", true), ("720", true), ("23", false), ("721", false), ("two days", false)] {
        let r = RawConfig { max_evidence_age_hours: Some(value.into()), ..raw() }.validate();
        assert_eq!(r.is_ok(), ok, "{value}");
    }
}

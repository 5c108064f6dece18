use super::*;
use crate::fixtures::t;
use crate::model::{
    BlockDevice, ProductCode, RESOURCE_TYPE_INSTANCE, RESOURCE_TYPE_LAUNCH_TEMPLATE, ResourceTypeOption,
    ResourceTypeSpec,
};

fn prov() -> Provenance {
    Provenance {
        owner_account_id: "123456789012".into(),
        region: "eu-west-1".into(),
        collected_at: t("2026-11-22T10:00:00Z"),
    }
}

fn entry(account: &str, rt: &str, n: i64) -> UsageEntry {
    UsageEntry {
        report_id: "amiur-1".into(),
        image_id: "ami-1".into(),
        account_id: account.into(),
        resource_type: rt.into(),
        usage_count: n,
        report_creation_time: t("2026-11-22T01:02:03.004Z"),
    }
}

/// An entries row as a reader sees it (owned, typed timestamps): the reference the
/// borrowed writer, [`EntryRows`], is held to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EntryRow {
    schema_version: u32,
    report_id: String,
    image_id: String,
    account_id: String,
    resource_type: String,
    usage_count: i64,
    #[serde(with = "timestamp")]
    report_creation_time: DateTime<Utc>,
    owner_account_id: String,
    region: String,
    #[serde(with = "timestamp")]
    collected_at: DateTime<Utc>,
}

fn entry_row(e: &UsageEntry, p: &Provenance) -> EntryRow {
    EntryRow {
        schema_version: SCHEMA_VERSION,
        report_id: e.report_id.clone(),
        image_id: e.image_id.clone(),
        account_id: e.account_id.clone(),
        resource_type: e.resource_type.clone(),
        usage_count: e.usage_count,
        report_creation_time: e.report_creation_time,
        owner_account_id: p.owner_account_id.clone(),
        region: p.region.clone(),
        collected_at: p.collected_at,
    }
}

#[test]
fn entry_row_json_has_contract_keys_and_timestamp_format() {
    let (e, p) = (entry("111122223333", RESOURCE_TYPE_INSTANCE, 3), prov());
    let row = entry_row(&e, &p);
    let v = serde_json::to_value(EntryRows::new(&p).row(&e)).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "schema_version",
        "report_id",
        "image_id",
        "account_id",
        "resource_type",
        "usage_count",
        "report_creation_time",
        "owner_account_id",
        "region",
        "collected_at",
    ];
    expected.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, expected);
    assert_eq!(v["report_creation_time"], "2026-11-22T01:02:03.004Z");
    assert_eq!(v["collected_at"], "2026-11-22T10:00:00.000Z");
    let back: EntryRow = serde_json::from_value(v).unwrap();
    assert_eq!(back, row);
}

#[test]
fn borrowed_entry_rows_serialise_exactly_as_owned_ones() {
    let p = prov();
    let mut rows = EntryRows::new(&p);
    let mut later = entry("444455556666", RESOURCE_TYPE_LAUNCH_TEMPLATE, 7);
    later.report_creation_time = t("2026-11-23T00:00:00Z");
    for e in [entry("111122223333", RESOURCE_TYPE_INSTANCE, 3), entry("111122223333", RESOURCE_TYPE_INSTANCE, 4), later]
    {
        let borrowed = serde_json::to_string(&rows.row(&e)).unwrap();
        assert_eq!(borrowed, serde_json::to_string(&entry_row(&e, &p)).unwrap());
    }
}

#[test]
fn totals_count_distinct_accounts_whatever_their_shape() {
    let mut tot = EntryTotals::default();
    for account in
        ["111122223333", "011122223333", "111122223333", "11112222333", "not-an-id", "not-an-id", "+11122223333"]
    {
        tot.add(&entry(account, RESOURCE_TYPE_INSTANCE, 1));
    }
    // Twelve-digit ids (a leading zero included) are numbers; short, signed or odd ones count as text.
    assert_eq!(tot.account_count(), 5);
    assert_eq!(tot.entry_count, 7);
}

#[test]
fn totals_split_by_resource_type_and_count_accounts() {
    let mut tot = EntryTotals::default();
    tot.add(&entry("111122223333", RESOURCE_TYPE_INSTANCE, 3));
    tot.add(&entry("111122223333", RESOURCE_TYPE_LAUNCH_TEMPLATE, 1));
    tot.add(&entry("444455556666", RESOURCE_TYPE_INSTANCE, 2));
    assert_eq!(tot.entry_count, 3);
    assert_eq!(tot.total_usage, 6);
    assert_eq!(tot.instance_usage, 5);
    assert_eq!(tot.launch_template_usage, 1);
    assert_eq!(tot.account_count(), 2);
}

#[test]
fn totals_near_the_limit_are_clipped_and_the_first_overflow_is_named() {
    let mut tot = EntryTotals::default();
    tot.add(&entry("111122223333", RESOURCE_TYPE_INSTANCE, i64::MAX - 1));
    assert_eq!(tot.overflow(), None);
    tot.add(&entry("444455556666", RESOURCE_TYPE_LAUNCH_TEMPLATE, 5));
    tot.add(&entry("777788889999", RESOURCE_TYPE_INSTANCE, 7));
    assert_eq!((tot.total_usage, tot.instance_usage, tot.launch_template_usage), (i64::MAX, i64::MAX, 5));
    let o = tot.overflow().expect("an overflow");
    assert_eq!((o.total, o.account_id.as_str(), o.usage_count), ("total_usage", "444455556666", 5));
    let text = o.to_string();
    assert!(text.contains("amiur-1") && text.contains("444455556666") && text.contains("clipped"), "{text}");

    let mut low = EntryTotals::default();
    low.add(&entry("111122223333", RESOURCE_TYPE_INSTANCE, i64::MIN));
    low.add(&entry("111122223333", RESOURCE_TYPE_INSTANCE, -1));
    assert_eq!((low.total_usage, low.overflow().map(|o| o.usage_count)), (i64::MIN, Some(-1)));
}

proptest::proptest! {
    /// Whatever counts EC2 sends, adding never panics, and a total is exact (the i128
    /// sum) unless an overflow is reported, in which case it is clipped to the bound.
    #[test]
    fn totals_are_exact_or_clipped_and_reported(
        counts in proptest::collection::vec((proptest::num::i64::ANY, 0..3u8), 0..40)
    ) {
        let mut tot = EntryTotals::default();
        let mut exact: i128 = 0;
        let mut clipped = false;
        for (n, kind) in &counts {
            let rt = [RESOURCE_TYPE_INSTANCE, RESOURCE_TYPE_LAUNCH_TEMPLATE, "other"][*kind as usize];
            tot.add(&entry("111122223333", rt, *n));
            exact += i128::from(*n);
            clipped |= exact > i128::from(i64::MAX) || exact < i128::from(i64::MIN);
            if clipped {
                break;
            }
        }
        if clipped {
            proptest::prop_assert!(tot.overflow().is_some());
            proptest::prop_assert!(tot.total_usage == i64::MAX || tot.total_usage == i64::MIN);
        } else {
            proptest::prop_assert_eq!(i128::from(tot.total_usage), exact);
        }
    }
}

#[test]
fn report_row_carries_report_image_and_totals() {
    let report = UsageReport {
        report_id: "amiur-1".into(),
        image_id: "ami-1".into(),
        state: ReportState::Available,
        state_reason: None,
        resource_types: vec![ResourceTypeSpec {
            resource_type: RESOURCE_TYPE_LAUNCH_TEMPLATE.into(),
            options: vec![ResourceTypeOption { name: "version-depth".into(), values: vec!["20".into()] }],
        }],
        account_ids: vec![],
        creation_time: t("2026-11-22T01:02:03.004Z"),
        expiration_time: t("2026-12-22T01:02:03.004Z"),
        tags: [(crate::create::PERIOD_TAG.to_string(), "2026-11-22".to_string())].into(),
    };
    let ami = Ami {
        image_id: "ami-1".into(),
        name: "golden-1".into(),
        state: "available".into(),
        billing_products: vec!["bp-1".into()],
        product_codes: vec![ProductCode { product_code_id: "pc".into(), product_code_type: "marketplace".into() }],
        block_devices: vec![
            BlockDevice {
                device_name: "/dev/xvda".into(),
                snapshot_id: Some("snap-1".into()),
                volume_size_gib: Some(8),
            },
            BlockDevice {
                device_name: "/dev/xvdb".into(),
                snapshot_id: Some("snap-2".into()),
                volume_size_gib: Some(100),
            },
            BlockDevice { device_name: "/dev/xvdc".into(), snapshot_id: None, volume_size_gib: Some(50) },
        ],
        ..Default::default()
    };
    let row = report_row(&report, Some(&ami), &EntryTotals::default(), &prov());
    let v = serde_json::to_value(&row).unwrap();
    assert_eq!(v["image"]["snapshot_size_gib_total"], 108);
    assert_eq!(v["image"]["creation_date"], serde_json::Value::Null);
    assert_eq!(v["resource_types"][0]["options"][0]["values"][0], "20");
    assert_eq!(v["tags"]["ami-usage-reporter:period"], "2026-11-22");
    assert_eq!(v["report_expiration_time"], "2026-12-22T01:02:03.004Z");
    assert_eq!(v["entry_count"], 0);
    let gone = report_row(&report, None, &EntryTotals::default(), &prov());
    assert!(serde_json::to_value(&gone).unwrap()["image"].is_null());
}

#[test]
fn snapshot_sizes_past_the_64_bit_range_stop_at_its_bound() {
    let device =
        |n: i64| BlockDevice { device_name: "/dev/x".into(), snapshot_id: Some("s".into()), volume_size_gib: Some(n) };
    let ami = Ami { block_devices: vec![device(i64::MAX), device(1), device(7)], ..Default::default() };
    assert_eq!(image_row(&ami).snapshot_size_gib_total, i64::MAX);
}

#[test]
fn keys_follow_the_hive_layout() {
    let k = ArchiveKeys { prefix: "ami-usage".into() };
    let d = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    assert_eq!(
        k.object(Dataset::Entries, "eu-west-1", d, "amiur-1"),
        "ami-usage/entries/region=eu-west-1/report_date=2026-11-02/amiur-1.json.gz"
    );
    assert_eq!(
        k.partition(Dataset::Reports, "eu-west-1", d),
        "ami-usage/reports/region=eu-west-1/report_date=2026-11-02/"
    );
    assert_eq!(ArchiveKeys::report_id_of("p/reports/region=x/report_date=y/amiur-9.json.gz"), Some("amiur-9"));
    assert_eq!(ArchiveKeys::report_id_of("p/reports/region=x/report_date=y/notes.txt"), None);
}

#[test]
fn one_listing_of_a_dataset_gives_the_ids_of_each_date_asked() {
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let keys = [
        "p/reports/region=x/report_date=2026-11-01/amiur-0.json.gz",
        "p/reports/region=x/report_date=2026-11-02/amiur-1.json.gz",
        "p/reports/region=x/report_date=2026-11-02/amiur-2.json.gz",
        "p/reports/region=x/report_date=2026-11-02/notes.txt",
        "p/reports/region=x/report_date=oops/amiur-3.json.gz",
        "p/reports/region=x/report_date=2026-11-04/amiur-4.json.gz",
    ];
    let dates = [day("2026-11-02"), day("2026-11-03"), day("2026-11-04")].into();
    let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let expected: BTreeMap<_, _> = [
        (day("2026-11-02"), ids(&["amiur-1", "amiur-2"])),
        (day("2026-11-03"), ids(&[])),
        (day("2026-11-04"), ids(&["amiur-4"])),
    ]
    .into();
    assert_eq!(ArchiveKeys::ids_by_date(keys, &dates), expected);
    assert_eq!(ArchiveKeys::date_and_id_of(keys[0]), Some((day("2026-11-01"), "amiur-0")));
    assert_eq!(ArchiveKeys::date_and_id_of("amiur-0.json.gz"), None);
}

#[test]
fn state_is_per_region_and_the_legacy_key_is_the_old_one() {
    let k = ArchiveKeys { prefix: "ami-usage/account=123456789012".into() };
    assert_eq!(k.state_object("eu-west-1"), "ami-usage/account=123456789012/state/region=eu-west-1/collect-state.json");
    assert_eq!(k.legacy_state_object(), "ami-usage/account=123456789012/state/collect-state.json");
    assert_ne!(k.state_object("eu-west-1"), k.state_object("us-east-1"));
    assert_ne!(k.state_object("us-east-1"), k.legacy_state_object());
}

/// Two Regions of one account under one prefix (organisation mode) must never write
/// the same key, whatever the dataset, for the same report date and run time.
#[test]
fn no_key_a_region_writes_collides_with_another_regions() {
    use crate::verdict::verdicts_object;
    let k = ArchiveKeys { prefix: "ami-usage/account=123456789012".into() };
    let d = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    let at = t("2026-11-02T10:30:00Z");
    let keys = |region: &str| {
        vec![
            k.object(Dataset::Entries, region, d, "amiur-1"),
            k.object(Dataset::Reports, region, d, "amiur-1"),
            verdicts_object(&k, region, at),
            k.state_object(region),
        ]
    };
    let (east, west) = (keys("us-east-1"), keys("eu-west-1"));
    for key in &east {
        assert!(!west.contains(key), "{key} is written by both Regions");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1_000))]

    /// Whatever an entry's text and numbers (EC2's answer, not ours to trust), its row is
    /// one JSON line that the typed reader reads back unchanged, and the borrowed writer
    /// writes exactly what the owned one does.
    #[test]
    fn any_entry_becomes_one_row_that_reads_back_unchanged(
        text in proptest::collection::vec(proptest::prelude::any::<String>(), 4),
        usage_count in proptest::prelude::any::<i64>(),
        // Years 1–9999 at millisecond precision: what the row's timestamp format holds.
        millis in -62_135_596_800_000_i64..253_402_300_799_999,
    ) {
        let p = prov();
        let e = UsageEntry {
            report_id: text[0].clone(),
            image_id: text[1].clone(),
            account_id: text[2].clone(),
            resource_type: text[3].clone(),
            usage_count,
            report_creation_time: DateTime::from_timestamp_millis(millis).unwrap(),
        };
        let line = serde_json::to_string(&EntryRows::new(&p).row(&e)).unwrap();
        proptest::prop_assert!(!line.contains('\n'));
        proptest::prop_assert_eq!(&line, &serde_json::to_string(&entry_row(&e, &p)).unwrap());
        let back: EntryRow = serde_json::from_str(&line).unwrap();
        proptest::prop_assert_eq!(back, entry_row(&e, &p));
        let mut totals = EntryTotals::default();
        totals.add(&e);
        proptest::prop_assert_eq!((totals.entry_count, totals.account_count()), (1, 1));
    }
}

use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::json;

use super::*;

fn rows_of(part: Vec<u8>) -> Vec<String> {
    let reader = SerializedFileReader::new(bytes::Bytes::from(part)).unwrap();
    reader.get_row_iter(None).unwrap().map(|r| r.unwrap().to_string()).collect()
}

const NESTED: &[(&str, &str)] = &[
    ("id", "string"),
    ("n", "int"),
    ("at", "timestamp"),
    ("ok", "boolean"),
    ("tags", "map<string,string>"),
    ("ids", "array<string>"),
    ("types", "array<struct<t:string,opts:array<struct<name:string,values:array<string>>>>>"),
    ("image", "struct<name:string,size:bigint,price:double>"),
];

#[test]
fn shreds_nested_rows_and_reads_them_back() {
    let mut w = PartWriter::new("t", NESTED).unwrap();
    w.begin_source("report-1");
    w.push(&json!({
        "id": "a", "n": 7, "at": "2026-11-22T01:02:03.004Z", "ok": true,
        "tags": {"k1": "v1", "k2": "v2"}, "ids": ["x", "y"],
        "types": [{"t": "ec2:Instance", "opts": []}, {"t": "lt", "opts": [{"name": "depth", "values": ["20", "5"]}]}],
        "image": {"name": "img", "size": 8, "price": 0.5},
        "unknown_key": "ignored like JSON SerDe does"
    }))
    .unwrap();
    w.begin_source("report-2");
    w.push(&json!({"id": "b", "n": null, "tags": {}, "ids": [], "types": null, "image": null})).unwrap();
    assert_eq!(w.rows(), 2);
    let part = w.finish().unwrap();
    assert_eq!(sources_of(&part).unwrap(), (vec!["report-1".to_string(), "report-2".to_string()], 2));
    let rows = rows_of(part);
    assert_eq!(rows.len(), 2);
    assert!(rows[0].contains(r#"id: "a", n: 7"#), "{}", rows[0]);
    assert!(rows[0].contains(r#"tags: {"k1" -> "v1", "k2" -> "v2"}, ids: ["x", "y"]"#), "{}", rows[0]);
    assert!(rows[0].contains(r#"{t: "lt", opts: [{name: "depth", values: ["20", "5"]}]}"#), "{}", rows[0]);
    assert!(rows[0].contains(r#"image: {name: "img", size: 8, price: 0.5}"#), "{}", rows[0]);
    assert!(rows[0].contains(r#"source_object: "report-1""#), "{}", rows[0]);
    assert!(rows[0].contains("2026-11-22 01:02:03.004"), "{}", rows[0]);
    assert!(
        rows[1].contains(r#"id: "b", n: null, at: null, ok: null, tags: {}, ids: [], types: null, image: null"#),
        "{}",
        rows[1]
    );
}

#[test]
fn flushes_row_groups_and_keeps_every_row() {
    let mut w = PartWriter::new("t", &[("id", "string"), ("ids", "array<string>")]).unwrap();
    w.begin_source("s");
    for i in 0..ROW_GROUP_ROWS + 10 {
        w.push(&json!({"id": i.to_string(), "ids": [i.to_string()]})).unwrap();
    }
    let part = w.finish().unwrap();
    let reader = SerializedFileReader::new(bytes::Bytes::from(part.clone())).unwrap();
    assert_eq!(reader.metadata().num_row_groups(), 2);
    let stats = reader.metadata().row_group(0).column(0).statistics().cloned();
    assert!(stats.is_some(), "row groups carry statistics");
    assert_eq!(rows_of(part).len(), ROW_GROUP_ROWS + 10);
}

#[test]
fn an_empty_part_is_still_a_readable_file() {
    let part = PartWriter::new("t", &[("id", "string")]).unwrap().finish().unwrap();
    assert_eq!(sources_of(&part).unwrap(), (Vec::<String>::new(), 0));
    assert!(rows_of(part).is_empty());
}

#[test]
fn refuses_rows_that_do_not_fit_their_table() {
    let mut w = PartWriter::new("t", NESTED).unwrap();
    assert!(w.push(&json!({"id": "a"})).unwrap_err().contains("before its source"));
    w.begin_source("s");
    assert!(w.push(&json!({"id": 5})).unwrap_err().contains("column `id`"));
    assert!(w.push(&json!({"n": 1_i64 << 40})).unwrap_err().contains("32-bit"));
    assert!(w.push(&json!({"at": "yesterday"})).unwrap_err().contains("timestamp"));
    assert!(w.push(&json!({"tags": ["not", "a", "map"]})).unwrap_err().contains("column `tags`"));
    assert!(w.push(&json!(["not an object"])).is_err());
    assert!(PartWriter::new("t", &[("x", "decimal(3,1)")]).is_err());
    assert!(sources_of(b"not parquet").is_err());
}

#[test]
fn the_sources_are_read_from_the_part_s_tail_alone() {
    let mut w = PartWriter::new("t", &[("id", "string")]).unwrap();
    for i in 0..3000 {
        w.begin_source(&format!("amiur-0123456789abcdef{i:05}"));
        w.push(&json!({"id": i.to_string()})).unwrap();
    }
    let part = w.finish().unwrap();
    let need = footer_len(&part[part.len() - 8..]).unwrap();
    assert!(need > FOOTER_READ, "3,000 ids need a second read: {need}");
    assert!(sources_of(&part[part.len() - FOOTER_READ..]).unwrap_err().contains("longer than"));
    let (sources, rows) = sources_of(&part[part.len() - need..]).unwrap();
    assert_eq!((sources.len(), rows), (3000, 3000));
    assert_eq!(sources[2999], "amiur-0123456789abcdef02999");
    assert!(footer_len(b"1234").is_err() && footer_len(b"12345678").is_err());
}

//! One compacted part: archive rows (JSON objects, as the raw objects hold them) shredded
//! into Parquet columns typed by the dataset's Glue types, with statistics, GZIP pages,
//! and the ids of the raw objects it holds in its footer. Pure: rows in, bytes out.
//!
//! Every column is optional (Glue columns are nullable); arrays and maps use the
//! standard three-level layout; each row also gets `source_object`, the id of the raw
//! object it came from, which the views use to serve each raw object from exactly one
//! side (ARCHITECTURE.md, "Compaction").

use std::sync::Arc;

use parquet::basic::{Compression, GzipLevel};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::metadata::{KeyValue, ParquetMetaDataReader};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use serde_json::Value;

use super::glue_type::{GlueType, Primitive};

/// Footer key holding the JSON list of the part's source object ids.
pub const SOURCES_KEY: &str = "ami_usage_reporter.sources";
/// The column naming each row's raw object (not a Glue column of the raw tables).
pub const SOURCE_COLUMN: &str = "source_object";
/// Rows buffered before a row group is written: bounds memory for days with very
/// large reports, and gives readers several row groups (with statistics) to skip.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

enum Values {
    Bytes(Vec<ByteArray>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
}

struct Leaf {
    kind: Primitive,
    repeated: bool,
    values: Values,
    defs: Vec<i16>,
    reps: Vec<i16>,
}

impl Leaf {
    fn new(kind: Primitive, repeated: bool) -> Self {
        let values = match kind {
            Primitive::String => Values::Bytes(Vec::new()),
            Primitive::Int => Values::I32(Vec::new()),
            Primitive::BigInt | Primitive::Timestamp => Values::I64(Vec::new()),
            Primitive::Double => Values::F64(Vec::new()),
            Primitive::Boolean => Values::Bool(Vec::new()),
        };
        Self { kind, repeated, values, defs: Vec::new(), reps: Vec::new() }
    }

    fn push(&mut self, v: &Value, def: i16, rep: i16) -> Result<(), String> {
        match (&mut self.values, self.kind) {
            (Values::Bytes(out), _) => out.push(v.as_str().ok_or("expected a string")?.as_bytes().to_vec().into()),
            (Values::I32(out), _) => {
                let n = v.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or("expected a 32-bit integer")?;
                out.push(n)
            }
            (Values::I64(out), Primitive::Timestamp) => out.push(timestamp_millis(v)?),
            (Values::I64(out), _) => out.push(v.as_i64().ok_or("expected a 64-bit integer")?),
            (Values::F64(out), _) => out.push(v.as_f64().ok_or("expected a number")?),
            (Values::Bool(out), _) => out.push(v.as_bool().ok_or("expected a boolean")?),
        }
        self.defs.push(def);
        self.reps.push(rep);
        Ok(())
    }

    fn null(&mut self, def: i16, rep: i16) {
        self.defs.push(def);
        self.reps.push(rep);
    }
}

fn timestamp_millis(v: &Value) -> Result<i64, String> {
    let text = v.as_str().ok_or("expected a timestamp string")?;
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("timestamp `{text}`: {e}"))
}

/// The Parquet message type of a dataset's columns plus `source_object`.
pub fn message_type(dataset: &str, columns: &[(String, GlueType)]) -> String {
    let mut out = format!("message {dataset} {{\n");
    for (name, t) in columns {
        t.write_parquet_field(name, &mut out);
    }
    out.push_str(&format!("required binary {SOURCE_COLUMN} (STRING);\n}}\n"));
    out
}

fn leaves_of(t: &GlueType, repeated: bool, out: &mut Vec<Leaf>) {
    match t {
        GlueType::Primitive(p) => out.push(Leaf::new(*p, repeated)),
        GlueType::Array(e) => leaves_of(e, true, out),
        GlueType::Map(k, v) => {
            leaves_of(k, true, out);
            leaves_of(v, true, out);
        }
        GlueType::Struct(fields) => fields.iter().for_each(|(_, f)| leaves_of(f, repeated, out)),
    }
}

/// Writes one part; feed it rows in order, then `finish`.
pub struct PartWriter {
    columns: Vec<(String, GlueType)>,
    leaves: Vec<Leaf>,
    sources: Vec<String>,
    buffered_rows: usize,
    rows: u64,
    writer: SerializedFileWriter<Vec<u8>>,
}

/// Where a row failed to fit the schema: raw rows that do not match their Glue table
/// are an archive bug, so the part is not written.
fn at(column: &str, e: String) -> String {
    format!("column `{column}`: {e}")
}

impl PartWriter {
    pub fn new(dataset: &str, columns: &[(&str, &str)]) -> Result<Self, String> {
        let columns: Vec<(String, GlueType)> = columns
            .iter()
            .map(|(n, t)| GlueType::parse(t).map(|t| (n.to_string(), t)).map_err(|e| at(n, e)))
            .collect::<Result<_, _>>()?;
        let schema = parquet::schema::parser::parse_message_type(&message_type(dataset, &columns))
            .map_err(|e| format!("parquet schema of {dataset}: {e}"))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::GZIP(GzipLevel::default()))
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_created_by(format!("ami-usage-reporter {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = SerializedFileWriter::new(Vec::new(), Arc::new(schema), Arc::new(props))
            .map_err(|e| format!("parquet writer: {e}"))?;
        let mut leaves = Vec::new();
        for (_, t) in &columns {
            leaves_of(t, false, &mut leaves);
        }
        leaves.push(Leaf::new(Primitive::String, false));
        Ok(Self { columns, leaves, sources: Vec::new(), buffered_rows: 0, rows: 0, writer })
    }

    /// Starts the rows of one raw object (named in the footer and in `source_object`).
    pub fn begin_source(&mut self, source: &str) {
        self.sources.push(source.to_string());
    }

    pub fn push(&mut self, row: &Value) -> Result<(), String> {
        let source = self.sources.last().cloned().ok_or("a row before its source")?;
        let object = row.as_object().ok_or("a row that is not a JSON object")?;
        let mut leaf = 0;
        let columns = std::mem::take(&mut self.columns);
        let shredded = columns.iter().try_for_each(|(name, t)| {
            shred(&mut self.leaves, t, object.get(name), 0, 0, 0, &mut leaf).map_err(|e| at(name, e))
        });
        self.columns = columns;
        shredded?;
        self.leaves[leaf].push(&Value::String(source), 0, 0)?;
        self.buffered_rows += 1;
        self.rows += 1;
        if self.buffered_rows >= ROW_GROUP_ROWS {
            self.flush_row_group()?;
        }
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn flush_row_group(&mut self) -> Result<(), String> {
        let err = |e: parquet::errors::ParquetError| format!("parquet row group: {e}");
        let mut group = self.writer.next_row_group().map_err(err)?;
        for leaf in &mut self.leaves {
            let mut column = group.next_column().map_err(err)?.ok_or("fewer parquet columns than leaves")?;
            let reps = leaf.repeated.then_some(leaf.reps.as_slice());
            let defs = Some(leaf.defs.as_slice());
            match &leaf.values {
                Values::Bytes(v) => column.typed::<ByteArrayType>().write_batch(v, defs, reps),
                Values::I32(v) => column.typed::<Int32Type>().write_batch(v, defs, reps),
                Values::I64(v) => column.typed::<Int64Type>().write_batch(v, defs, reps),
                Values::F64(v) => column.typed::<DoubleType>().write_batch(v, defs, reps),
                Values::Bool(v) => column.typed::<BoolType>().write_batch(v, defs, reps),
            }
            .map_err(err)?;
            column.close().map_err(err)?;
            *leaf = Leaf::new(leaf.kind, leaf.repeated);
        }
        group.close().map_err(err)?;
        self.buffered_rows = 0;
        Ok(())
    }

    /// The part's bytes: the last row group, the sources in the footer.
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        if self.buffered_rows > 0 || self.rows == 0 {
            self.flush_row_group()?;
        }
        let sources = serde_json::to_string(&self.sources).map_err(|e| e.to_string())?;
        self.writer.append_key_value_metadata(KeyValue::new(SOURCES_KEY.to_string(), sources));
        self.writer.into_inner().map_err(|e| format!("parquet footer: {e}"))
    }
}

/// Dremel shredding of one optional value whose parent is defined at level `def`:
/// `rep` is the repetition level of its first leaf value, `depth` the number of
/// repeated ancestors; `leaf` walks the leaves in schema order.
fn shred(
    leaves: &mut [Leaf],
    t: &GlueType,
    v: Option<&Value>,
    rep: i16,
    def: i16,
    depth: i16,
    leaf: &mut usize,
) -> Result<(), String> {
    let v = v.filter(|v| !v.is_null());
    match (t, v) {
        (_, None) => nulls(leaves, t, def, rep, leaf),
        (GlueType::Primitive(_), Some(v)) => {
            leaves[*leaf].push(v, def + 1, rep)?;
            *leaf += 1;
        }
        (GlueType::Struct(fields), Some(Value::Object(o))) => {
            for (name, f) in fields {
                shred(leaves, f, o.get(name), rep, def + 1, depth, leaf).map_err(|e| format!("{name}: {e}"))?;
            }
        }
        (GlueType::Array(e), Some(Value::Array(items))) => {
            repeated(leaves, e, false, items.iter().map(|i| (None, i)), rep, def, depth, leaf)?
        }
        (GlueType::Map(_, value), Some(Value::Object(o))) => {
            repeated(leaves, value, true, o.iter().map(|(k, v)| (Some(k), v)), rep, def, depth, leaf)?
        }
        (_, Some(other)) => return Err(format!("unexpected JSON value {other}")),
    }
    Ok(())
}

/// The entries of a list or a map (`keyed`): present at `def + 1`, each entry at
/// `def + 2` (the required map key there), its element one deeper.
#[allow(clippy::too_many_arguments)]
fn repeated<'v>(
    leaves: &mut [Leaf],
    element: &GlueType,
    keyed: bool,
    entries: impl Iterator<Item = (Option<&'v String>, &'v Value)>,
    rep: i16,
    def: i16,
    depth: i16,
    leaf: &mut usize,
) -> Result<(), String> {
    let start = *leaf;
    let mut end = start + usize::from(keyed) + count_leaves(element);
    let mut any = false;
    for (i, (key, v)) in entries.enumerate() {
        any = true;
        let r = if i == 0 { rep } else { depth + 1 };
        let mut at = start;
        if let Some(key) = key {
            leaves[at].push(&Value::String(key.clone()), def + 2, r)?;
            at += 1;
        }
        shred(leaves, element, Some(v), r, def + 2, depth + 1, &mut at)?;
        end = at;
    }
    if !any {
        let mut at = start;
        if keyed {
            leaves[at].null(def + 1, rep);
            at += 1;
        }
        nulls(leaves, element, def + 1, rep, &mut at);
        end = at;
    }
    *leaf = end;
    Ok(())
}

fn count_leaves(t: &GlueType) -> usize {
    let mut out = Vec::new();
    t.leaves(&mut out);
    out.len()
}

fn nulls(leaves: &mut [Leaf], t: &GlueType, def: i16, rep: i16, leaf: &mut usize) {
    for _ in 0..count_leaves(t) {
        leaves[*leaf].null(def, rep);
        *leaf += 1;
    }
}

/// Bytes of a part's end read first for its footer: room for the ids of ~2,000
/// sources; a larger footer takes one more read of exactly its length (`footer_len`).
pub const FOOTER_READ: usize = 64 * 1024;

/// How many bytes at the end of a part hold its footer (metadata, its length, the
/// magic), from any tail of the part at least 8 bytes long.
pub fn footer_len(tail: &[u8]) -> Result<usize, String> {
    let end = tail.len().checked_sub(8).ok_or("not a parquet part: shorter than a footer")?;
    let (len, magic) = tail[end..].split_at(4);
    if magic != b"PAR1" {
        return Err("not a parquet part: it does not end with PAR1".into());
    }
    let len: [u8; 4] = len.try_into().map_err(|_| "not a parquet part: no footer length")?;
    usize::try_from(u32::from_le_bytes(len)).map(|n| n + 8).map_err(|e| e.to_string())
}

/// The source ids a part's footer names, and its row count, from a tail of the part
/// that holds its whole footer (the whole part will do).
pub fn sources_of(tail: &[u8]) -> Result<(Vec<String>, u64), String> {
    let need = footer_len(tail)?;
    let start = tail
        .len()
        .checked_sub(need)
        .ok_or_else(|| format!("the part's footer ({need} bytes) is longer than the {} bytes read", tail.len()))?;
    let metadata = ParquetMetaDataReader::decode_metadata(&tail[start..tail.len() - 8])
        .map_err(|e| format!("not a parquet part: {e}"))?;
    let value = metadata
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|kv| kv.key == SOURCES_KEY))
        .and_then(|kv| kv.value.clone())
        .ok_or_else(|| format!("the part has no `{SOURCES_KEY}` in its footer"))?;
    let rows = u64::try_from(metadata.file_metadata().num_rows()).unwrap_or(0);
    let sources = serde_json::from_str(&value).map_err(|e| format!("`{SOURCES_KEY}`: {e}"))?;
    Ok((sources, rows))
}

#[cfg(test)]
#[path = "parquet_part_tests.rs"]
mod tests;

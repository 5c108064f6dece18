//! bench/compaction.py's writer: one local raw partition (a directory of `.json.gz`
//! objects) into the parts collect would write (`part-NNNN.parquet`, planned by
//! `core::compaction::next_part` within `PartBounds::DEFAULT`), with the binary's own
//! `PartWriter`, so the benchmark reads the very parts collect writes. Not part of the
//! product.
//!
//! `cargo run --example compact_dir -- <dataset> <raw partition dir> <out dir> [max raw bytes]`
//! (`max raw bytes`, without the other bounds: a huge one makes one part of the whole
//! day, as before the parts were bounded).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ami_usage_reporter::core::archive::jsonl;
use ami_usage_reporter::core::compaction::parquet_part::PartWriter;
use ami_usage_reporter::core::compaction::{DATASETS, DatasetSpec, PartBounds, PartPlan, next_part};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dataset, dir, out, max) = match args.as_slice() {
        [dataset, dir, out] => (dataset, dir, out, None),
        [dataset, dir, out, max] => (dataset, dir, out, Some(max.parse::<u64>()?)),
        _ => anyhow::bail!("usage: compact_dir <dataset> <raw partition dir> <out dir> [max raw bytes]"),
    };
    let spec = DATASETS.iter().find(|d| d.name == dataset).ok_or_else(|| anyhow::anyhow!("no dataset {dataset}"))?;
    let mut raw = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(id) = entry.file_name().to_str().and_then(|n| n.strip_suffix(".json.gz")) {
            raw.insert(id.to_string(), entry.metadata()?.len());
        }
    }
    let bounds =
        max.map_or(PartBounds::DEFAULT, |raw_bytes| PartBounds { raw_bytes, sources: usize::MAX, rows: u64::MAX });
    let mut compacted = BTreeSet::new();
    std::fs::create_dir_all(out)?;
    let mut number = 0;
    while let Some(plan) = next_part(&raw, &compacted, number, bounds) {
        let taken = write_part(spec, Path::new(dir), Path::new(out), &plan, bounds)?;
        compacted.extend(plan.sources.into_iter().take(taken));
        number += 1;
    }
    Ok(())
}

/// Writes the plan's part, or its first sources once it is full (as collect does);
/// returns how many sources it holds.
fn write_part(
    spec: &DatasetSpec,
    dir: &Path,
    out: &Path,
    plan: &PartPlan,
    bounds: PartBounds,
) -> anyhow::Result<usize> {
    let mut part = PartWriter::new(spec.name, spec.columns).map_err(anyhow::Error::msg)?;
    let mut taken = 0;
    for id in &plan.sources {
        if taken > 0 && bounds.is_full(part.rows()) {
            break;
        }
        taken += 1;
        part.begin_source(id);
        let bytes = std::fs::read(dir.join(format!("{id}.json.gz")))?;
        jsonl::for_each_row(&bytes, |row: serde_json::Value| part.push(&row))?;
    }
    let path = out.join(format!("part-{:04}.parquet", plan.number));
    std::fs::write(path, part.finish().map_err(anyhow::Error::msg)?)?;
    Ok(taken)
}

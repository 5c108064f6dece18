//! bench/compaction.py's writer: one local raw partition (a directory of `.json.gz`
//! objects) into one Parquet part, with the binary's own `PartWriter`, so the benchmark
//! reads the very parts collect writes. Not part of the product.
//!
//! `cargo run --example compact_dir -- <dataset> <raw partition dir> <part file>`

use ami_usage_reporter::core::compaction::DATASETS;
use ami_usage_reporter::core::jsonl;
use ami_usage_reporter::core::parquet_part::PartWriter;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dataset, dir, out] = args.as_slice() else {
        anyhow::bail!("usage: compact_dir <dataset> <raw partition dir> <part file>");
    };
    let spec = DATASETS.iter().find(|d| d.name == dataset).ok_or_else(|| anyhow::anyhow!("no dataset {dataset}"))?;
    let mut sources: Vec<_> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    sources.sort();
    let mut part = PartWriter::new(spec.name, spec.columns).map_err(anyhow::Error::msg)?;
    for path in sources {
        let Some(id) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".json.gz")) else {
            continue;
        };
        part.begin_source(id);
        jsonl::for_each_row(&std::fs::read(&path)?, |row: serde_json::Value| part.push(&row))?;
    }
    std::fs::write(out, part.finish().map_err(anyhow::Error::msg)?)?;
    Ok(())
}

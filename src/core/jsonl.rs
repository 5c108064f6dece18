//! Gzip JSON Lines: the archive's object format. The encoder is fed row by row, so a
//! report with a million entries is never materialised as a `Vec` of rows.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub struct JsonlGzWriter {
    encoder: GzEncoder<Vec<u8>>,
    rows: u64,
}

impl Default for JsonlGzWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonlGzWriter {
    pub fn new() -> Self {
        Self { encoder: GzEncoder::new(Vec::new(), Compression::default()), rows: 0 }
    }

    pub fn push<T: Serialize>(&mut self, row: &T) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.encoder, row)?;
        self.encoder.write_all(b"\n")?;
        self.rows += 1;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes compressed so far (the encoder buffers a little more internally).
    pub fn compressed_len(&self) -> usize {
        self.encoder.get_ref().len()
    }

    /// Takes the compressed bytes produced so far, leaving the stream open: used to
    /// ship multipart-upload parts while the encoder keeps going.
    pub fn take_compressed(&mut self) -> Vec<u8> {
        std::mem::take(self.encoder.get_mut())
    }

    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        self.encoder.finish()
    }
}

pub fn encode<T: Serialize>(rows: &[T]) -> std::io::Result<Vec<u8>> {
    let mut w = JsonlGzWriter::new();
    for r in rows {
        w.push(r)?;
    }
    w.finish()
}

pub fn decode<T: DeserializeOwned>(gz: &[u8]) -> anyhow::Result<Vec<T>> {
    use std::io::BufRead;
    let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(gz));
    let mut rows = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        rows.push(serde_json::from_str(&line).map_err(|e| anyhow::anyhow!("line {}: {e}", i + 1))?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Row {
        a: u32,
        b: String,
    }

    #[test]
    fn round_trips_rows_one_per_line() {
        let rows = vec![Row { a: 1, b: "x".into() }, Row { a: 2, b: "line\nbreak".into() }];
        let gz = encode(&rows).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert_eq!(decode::<Row>(&gz).unwrap(), rows);
    }

    #[test]
    fn taking_parts_midway_still_yields_one_valid_stream() {
        let mut w = JsonlGzWriter::new();
        let mut out = Vec::new();
        for i in 0..5000 {
            w.push(&Row { a: i, b: format!("row {i}") }).unwrap();
            if i % 1000 == 999 {
                out.extend(w.take_compressed());
            }
        }
        assert_eq!(w.rows(), 5000);
        out.extend(w.finish().unwrap());
        let back: Vec<Row> = decode(&out).unwrap();
        assert_eq!(back.len(), 5000);
        assert_eq!(back[4999], Row { a: 4999, b: "row 4999".into() });
    }

    #[test]
    fn empty_stream_is_a_valid_empty_object() {
        let gz = JsonlGzWriter::new().finish().unwrap();
        assert!(decode::<Row>(&gz).unwrap().is_empty());
    }
}

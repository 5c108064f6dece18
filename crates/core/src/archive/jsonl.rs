//! Gzip JSON Lines: the archive's object format. The encoder is fed row by row, so a
//! report with a million entries is never materialised as a `Vec` of rows.
//!
//! Rows are serialised into a small staging buffer and handed to the encoder in
//! [`STAGE`]-sized chunks: flate2 prepares (zero-fills) its 32 KiB output buffer on
//! every write, and serde_json writes token by token, so each write to the encoder must
//! carry many rows.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub struct JsonlGzWriter {
    encoder: GzEncoder<Vec<u8>>,
    staged: Vec<u8>,
}

/// Serialised rows collected before one write to the encoder.
pub const STAGE: usize = 64 * 1024;

impl Default for JsonlGzWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonlGzWriter {
    pub fn new() -> Self {
        Self { encoder: GzEncoder::new(Vec::new(), Compression::default()), staged: Vec::with_capacity(STAGE + 1024) }
    }

    pub fn push<T: Serialize>(&mut self, row: &T) -> std::io::Result<()> {
        let start = self.staged.len();
        if let Err(e) = serde_json::to_writer(&mut self.staged, row) {
            self.staged.truncate(start);
            return Err(e.into());
        }
        self.staged.push(b'\n');
        if self.staged.len() >= STAGE {
            self.flush_staged()?;
        }
        Ok(())
    }

    fn flush_staged(&mut self) -> std::io::Result<()> {
        self.encoder.write_all(&self.staged)?;
        self.staged.clear();
        Ok(())
    }

    /// Bytes compressed so far (up to [`STAGE`] bytes of rows and the encoder's own
    /// window are not counted yet).
    pub fn compressed_len(&self) -> usize {
        self.encoder.get_ref().len()
    }

    /// Takes the compressed bytes produced so far, leaving the stream open: used to
    /// ship multipart-upload parts while the encoder keeps going.
    pub fn take_compressed(&mut self) -> Vec<u8> {
        std::mem::take(self.encoder.get_mut())
    }

    pub fn finish(mut self) -> std::io::Result<Vec<u8>> {
        self.flush_staged()?;
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

/// Hands each row of a gzip JSON Lines object to `row`, one line at a time: a report
/// of a million entries is compacted without holding its rows twice.
pub fn for_each_row<T: DeserializeOwned>(
    gz: &[u8],
    mut row: impl FnMut(T) -> Result<(), String>,
) -> anyhow::Result<()> {
    use std::io::BufRead;
    let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(gz));
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        let value = serde_json::from_str(&line).map_err(|e| anyhow::anyhow!("line {}: {e}", i + 1))?;
        row(value).map_err(|e| anyhow::anyhow!("line {}: {e}", i + 1))?;
    }
    Ok(())
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
        out.extend(w.finish().unwrap());
        let back: Vec<Row> = decode(&out).unwrap();
        assert_eq!(back.len(), 5000);
        assert_eq!(back[4999], Row { a: 4999, b: "row 4999".into() });
    }

    #[test]
    fn rows_are_handed_to_the_encoder_in_chunks() {
        let mut w = JsonlGzWriter::new();
        let row = Row { a: 7, b: "x".repeat(100) };
        let line = serde_json::to_vec(&row).unwrap().len() + 1;
        for _ in 0..(STAGE / line) {
            w.push(&row).unwrap();
        }
        assert_eq!(w.compressed_len(), 0, "below one chunk nothing reaches the encoder");
        for _ in 0..(2 * STAGE / line) {
            w.push(&row).unwrap();
        }
        assert!(w.staged.len() < STAGE);
        let back: Vec<Row> = decode(&w.finish().unwrap()).unwrap();
        assert_eq!(back.len(), STAGE / line + 2 * STAGE / line);
        assert!(back.iter().all(|r| *r == row));
    }

    #[test]
    fn empty_stream_is_a_valid_empty_object() {
        let gz = JsonlGzWriter::new().finish().unwrap();
        assert!(decode::<Row>(&gz).unwrap().is_empty());
    }
}

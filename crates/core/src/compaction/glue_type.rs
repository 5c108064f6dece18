//! Hive/Glue column types (`bigint`, `array<string>`, `struct<a:int,b:map<string,string>>`)
//! parsed into a tree: the compacted layout's Parquet schema and the row shredding are
//! both derived from the same type strings as the Glue tables, so a compacted column
//! is typed exactly as its table declares it.

use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitive {
    String,
    Int,
    BigInt,
    Double,
    Boolean,
    /// Archive timestamps (`2026-11-22T01:02:03.004Z`) as Parquet INT64 milliseconds.
    Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlueType {
    Primitive(Primitive),
    Array(Box<GlueType>),
    Map(Box<GlueType>, Box<GlueType>),
    Struct(Vec<(String, GlueType)>),
}

impl GlueType {
    pub fn parse(text: &str) -> Result<GlueType, String> {
        let mut p = Parser { s: text.as_bytes(), at: 0 };
        let t = p.parse_type()?;
        if p.at != p.s.len() {
            return Err(format!("unexpected `{}` in type `{text}`", &text[p.at..]));
        }
        Ok(t)
    }

    /// Appends this type as an optional Parquet field named `name` to a message type
    /// text (`LIST` and `MAP` in the standard three-level layout).
    pub fn write_parquet_field(&self, name: &str, out: &mut String) {
        match self {
            GlueType::Primitive(p) => {
                let physical = match p {
                    Primitive::String => "binary",
                    Primitive::Int => "int32",
                    Primitive::BigInt | Primitive::Timestamp => "int64",
                    Primitive::Double => "double",
                    Primitive::Boolean => "boolean",
                };
                let logical = match p {
                    Primitive::String => " (STRING)",
                    Primitive::Timestamp => " (TIMESTAMP(MILLIS,false))",
                    _ => "",
                };
                let _ = writeln!(out, "optional {physical} {name}{logical};");
            }
            GlueType::Array(element) => {
                let _ = writeln!(out, "optional group {name} (LIST) {{ repeated group list {{");
                element.write_parquet_field("element", out);
                out.push_str("} }\n");
            }
            GlueType::Map(key, value) => {
                let _ = writeln!(out, "optional group {name} (MAP) {{ repeated group key_value {{");
                // Parquet map keys are required; the shredder refuses a null key.
                let mut key_field = String::new();
                key.write_parquet_field("key", &mut key_field);
                out.push_str(&key_field.replacen("optional", "required", 1));
                value.write_parquet_field("value", out);
                out.push_str("} }\n");
            }
            GlueType::Struct(fields) => {
                let _ = writeln!(out, "optional group {name} {{");
                for (field, t) in fields {
                    t.write_parquet_field(field, out);
                }
                out.push_str("}\n");
            }
        }
    }

    /// The primitive leaves in schema order (Parquet's column order).
    pub fn leaves(&self, out: &mut Vec<Primitive>) {
        match self {
            GlueType::Primitive(p) => out.push(*p),
            GlueType::Array(e) => e.leaves(out),
            GlueType::Map(k, v) => {
                k.leaves(out);
                v.leaves(out);
            }
            GlueType::Struct(fields) => fields.iter().for_each(|(_, t)| t.leaves(out)),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn word(&mut self) -> String {
        let start = self.at;
        while self.at < self.s.len() && (self.s[self.at].is_ascii_alphanumeric() || self.s[self.at] == b'_') {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.at]).into_owned()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", c as char, self.at))
        }
    }

    fn parse_type(&mut self) -> Result<GlueType, String> {
        let word = self.word();
        Ok(match word.as_str() {
            "string" => GlueType::Primitive(Primitive::String),
            "int" | "integer" => GlueType::Primitive(Primitive::Int),
            "bigint" => GlueType::Primitive(Primitive::BigInt),
            "double" => GlueType::Primitive(Primitive::Double),
            "boolean" => GlueType::Primitive(Primitive::Boolean),
            "timestamp" => GlueType::Primitive(Primitive::Timestamp),
            "array" => {
                self.expect(b'<')?;
                let element = self.parse_type()?;
                self.expect(b'>')?;
                GlueType::Array(Box::new(element))
            }
            "map" => {
                self.expect(b'<')?;
                let key = self.parse_type()?;
                self.expect(b',')?;
                let value = self.parse_type()?;
                self.expect(b'>')?;
                GlueType::Map(Box::new(key), Box::new(value))
            }
            "struct" => self.parse_struct()?,
            other => return Err(format!("unsupported type `{other}`")),
        })
    }

    fn parse_struct(&mut self) -> Result<GlueType, String> {
        self.expect(b'<')?;
        let mut fields = Vec::new();
        loop {
            let name = self.word();
            if name.is_empty() {
                return Err(format!("expected a field name at byte {}", self.at));
            }
            self.expect(b':')?;
            fields.push((name, self.parse_type()?));
            if self.s.get(self.at) == Some(&b',') {
                self.at += 1;
            } else {
                self.expect(b'>')?;
                return Ok(GlueType::Struct(fields));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_nested_types_of_the_reports_table() {
        let t = GlueType::parse(
            "array<struct<resource_type:string,options:array<struct<name:string,values:array<string>>>>>",
        )
        .unwrap();
        let mut leaves = Vec::new();
        t.leaves(&mut leaves);
        assert_eq!(leaves, vec![Primitive::String, Primitive::String, Primitive::String]);
        assert_eq!(
            GlueType::parse("map<string,bigint>").unwrap(),
            GlueType::Map(
                Box::new(GlueType::Primitive(Primitive::String)),
                Box::new(GlueType::Primitive(Primitive::BigInt))
            )
        );
    }

    #[test]
    fn refuses_what_it_cannot_type() {
        assert!(GlueType::parse("decimal(10,2)").is_err());
        assert!(GlueType::parse("array<string").is_err());
        assert!(GlueType::parse("struct<>").is_err());
        assert!(GlueType::parse("string junk").is_err());
    }

    #[test]
    fn writes_three_level_lists_and_maps() {
        let mut out = String::new();
        GlueType::parse("map<string,array<int>>").unwrap().write_parquet_field("tags", &mut out);
        let compact: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(
            compact,
            "optional group tags (MAP) { repeated group key_value { required binary key (STRING); optional group value (LIST) { repeated group list { optional int32 element; } } } }"
        );
    }
}

//! YAML request bodies, read into JSON values with a bound on what the document expands to.
//!
//! YAML aliases (`*a`) repeat a node anchored elsewhere (`&a`), so a small body can stand for a
//! huge document ("billion laughs"). The body is read through a visitor that counts every node
//! and every byte of text it produces, and stops as soon as the expansion passes the bound.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The most a YAML body may expand to: text bytes plus 16 per node (about what JSON spends).
pub const MAX_EXPANDED_BYTES: usize = 4 << 20;

/// Parses a YAML document into a JSON value, refusing one that expands past `limit` bytes.
pub fn from_slice(bytes: &[u8], limit: usize) -> Result<Value, serde_yaml_ng::Error> {
    let budget = Cell::new(limit);
    let de = serde_yaml_ng::Deserializer::from_slice(bytes);
    Bounded { budget: &budget }.deserialize(de)
}

/// The error text of a document that expands too far.
pub const TOO_LARGE: &str = "the YAML document expands past the size limit (aliases?)";

#[derive(Clone, Copy)]
struct Bounded<'a> {
    budget: &'a Cell<usize>,
}

impl Bounded<'_> {
    fn spend<E: de::Error>(&self, bytes: usize) -> Result<(), E> {
        let cost = bytes.saturating_add(16);
        match self.budget.get().checked_sub(cost) {
            Some(left) => {
                self.budget.set(left);
                Ok(())
            }
            None => Err(E::custom(TOO_LARGE)),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.spend(v.len())?;
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.spend(v.len())?;
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.spend(0)?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.spend(0)?;
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(self)? {
            let key = match key {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let value = map.next_value_seed(self)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_documents_read_as_json() {
        let v = from_slice(
            b"repo: a\ntasks:\n  - title: x\n    estimate_points: 2\n",
            1 << 20,
        )
        .unwrap();
        assert_eq!(v["tasks"][0]["estimate_points"], 2);
        assert_eq!(v["repo"], "a");
        // A small alias is fine.
        let v = from_slice(b"a: &x hello\nb: *x\n", 1 << 20).unwrap();
        assert_eq!(v["b"], "hello");
    }

    #[test]
    fn alias_bombs_stop_at_the_bound() {
        let mut doc = format!("big: &big \"{}\"\nlist:\n", "x".repeat(10_000));
        for _ in 0..1_000 {
            doc.push_str("  - *big\n");
        }
        let e = from_slice(doc.as_bytes(), MAX_EXPANDED_BYTES).unwrap_err();
        assert!(e.to_string().contains("size limit"), "{e}");
    }
}

//! Model file format, written by `ml fit` and read by `ml predict`/`ml eval`.
//!
//! Layout (little endian):
//! `b"LFML"` | format version u32 | payload length u64 | sha256(payload) 32 B | payload.
//! The payload is a compact binary encoding of the model's serde data model
//! (via `serde_json::Value`): floats are stored as raw IEEE bits, so a saved
//! model predicts bit-for-bit like the in-memory one.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use crate::error::{MlError, Result};

pub const MAGIC: &[u8; 4] = b"LFML";
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 4 + 4 + 8 + 32;

const T_NULL: u8 = 0;
const T_FALSE: u8 = 1;
const T_TRUE: u8 = 2;
const T_U64: u8 = 3;
const T_I64: u8 = 4;
const T_F64: u8 = 5;
const T_STR: u8 = 6;
const T_ARR: u8 = 7;
const T_OBJ: u8 = 8;

fn encode_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(T_NULL),
        Value::Bool(false) => out.push(T_FALSE),
        Value::Bool(true) => out.push(T_TRUE),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push(T_U64);
                out.extend_from_slice(&u.to_le_bytes());
            } else if let Some(i) = n.as_i64() {
                out.push(T_I64);
                out.extend_from_slice(&i.to_le_bytes());
            } else {
                out.push(T_F64);
                out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_bits().to_le_bytes());
            }
        }
        Value::String(s) => {
            out.push(T_STR);
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(a) => {
            out.push(T_ARR);
            out.extend_from_slice(&(a.len() as u64).to_le_bytes());
            a.iter().for_each(|x| encode_value(x, out));
        }
        Value::Object(m) => {
            out.push(T_OBJ);
            out.extend_from_slice(&(m.len() as u64).to_le_bytes());
            for (k, x) in m {
                out.extend_from_slice(&(k.len() as u64).to_le_bytes());
                out.extend_from_slice(k.as_bytes());
                encode_value(x, out);
            }
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The file the payload came from, for errors.
    path: &'a str,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, reason: impl Into<String>) -> MlError {
        MlError::corrupt_model(self.path, reason)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(self.corrupt(format!("payload ends early at byte {}", self.pos)));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u64(&mut self) -> Result<u64> {
        let mut le = [0u8; 8];
        le.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(le))
    }
    fn len(&mut self) -> Result<usize> {
        let n = usize::try_from(self.u64()?).unwrap_or(usize::MAX);
        // Every element takes at least one byte; refuse lengths that cannot
        // fit so a corrupt length cannot trigger a huge allocation.
        if n > self.buf.len() - self.pos {
            return Err(self.corrupt(format!(
                "length {n} at byte {} exceeds the payload",
                self.pos
            )));
        }
        Ok(n)
    }
    fn string(&mut self) -> Result<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| self.corrupt("invalid UTF-8 string"))
    }
    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > 256 {
            return Err(self.corrupt("nesting too deep"));
        }
        let tag = self.take(1)?[0];
        Ok(match tag {
            T_NULL => Value::Null,
            T_FALSE => Value::Bool(false),
            T_TRUE => Value::Bool(true),
            T_U64 => Value::Number(self.u64()?.into()),
            T_I64 => Value::Number((self.u64()? as i64).into()),
            T_F64 => {
                let f = f64::from_bits(self.u64()?);
                Value::Number(Number::from_f64(f).ok_or_else(|| self.corrupt("non-finite number"))?)
            }
            T_STR => Value::String(self.string()?),
            T_ARR => {
                let n = self.len()?;
                // A decoded value is many times its encoded byte: reserve only a
                // little up front, so a hostile length is paid for in real bytes.
                let mut a = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    a.push(self.value(depth + 1)?);
                }
                Value::Array(a)
            }
            T_OBJ => {
                let n = self.len()?;
                let mut m = Map::new();
                for _ in 0..n {
                    let k = self.string()?;
                    let v = self.value(depth + 1)?;
                    m.insert(k, v);
                }
                Value::Object(m)
            }
            t => {
                return Err(self.corrupt(format!("unknown tag {t} at byte {}", self.pos - 1)));
            }
        })
    }
}

/// Serialises `model` into the versioned, checksummed file format.
pub fn to_bytes<T: Serialize + DeserializeOwned>(model: &T) -> Result<Vec<u8>> {
    let value = serde_json::to_value(model)
        .map_err(|e| MlError::InvalidInput(format!("cannot serialise model: {e}")))?;
    // serde_json turns NaN/inf into null; catch that here rather than
    // writing a file that cannot be loaded back.
    serde_json::from_value::<T>(value.clone()).map_err(|e| {
        MlError::InvalidInput(format!(
            "model holds non-finite numbers and cannot be saved ({e}); check the input for infinities or relax extreme parameters"
        ))
    })?;
    let mut payload = Vec::new();
    encode_value(&value, &mut payload);
    Ok(frame(&payload))
}

/// A whole file around an encoded payload: magic, version, length, checksum. Besides
/// [`to_bytes`], for tests and fuzzing that craft payloads the checksum would otherwise
/// refuse before the decoder sees them.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// The `n` little-endian bytes at `at` of a buffer already checked to hold them.
fn le<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

/// Parses bytes produced by [`to_bytes`]; `path` is only used in errors.
pub fn from_bytes<T: DeserializeOwned>(bytes: &[u8], path: &str) -> Result<T> {
    let truncated = |needed: usize| MlError::TruncatedModel {
        path: path.to_string(),
        len: bytes.len(),
        needed,
    };
    if bytes.len() < 4 || &bytes[..4] != MAGIC {
        if bytes.len() < 4 && MAGIC.starts_with(bytes) && !bytes.is_empty() {
            return Err(truncated(HEADER_LEN));
        }
        return Err(MlError::NotAModelFile {
            path: path.to_string(),
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(truncated(HEADER_LEN));
    }
    let version = u32::from_le_bytes(le(bytes, 4));
    if version != FORMAT_VERSION {
        return Err(MlError::UnsupportedVersion {
            path: path.to_string(),
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let needed = usize::try_from(u64::from_le_bytes(le(bytes, 8)))
        .ok()
        .and_then(|len| HEADER_LEN.checked_add(len))
        .ok_or_else(|| MlError::corrupt_model(path, "invalid payload length"))?;
    if bytes.len() < needed {
        return Err(truncated(needed));
    }
    if bytes.len() > needed {
        return Err(MlError::corrupt_model(
            path,
            format!("{} unexpected trailing bytes", bytes.len() - needed),
        ));
    }
    let payload = &bytes[HEADER_LEN..];
    if Sha256::digest(payload).as_slice() != &bytes[16..48] {
        return Err(MlError::corrupt_model(path, "checksum mismatch"));
    }
    let mut r = Reader {
        buf: payload,
        pos: 0,
        path,
    };
    let value = r.value(0)?;
    if r.pos != payload.len() {
        return Err(MlError::corrupt_model(path, "payload has trailing data"));
    }
    serde_json::from_value(value)
        .map_err(|e| MlError::corrupt_model(path, format!("unexpected model structure: {e}")))
}

pub fn save<T: Serialize + DeserializeOwned>(model: &T, path: &Path) -> Result<()> {
    let bytes = to_bytes(model)?;
    let io = |source| MlError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Write then rename so a crash never leaves a half-written model behind.
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("lfm")
    ));
    std::fs::write(&tmp, &bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The bytes of the file at `path`, for [`from_bytes`].
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| MlError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Toy {
        a: Vec<f64>,
        b: String,
        c: Option<i64>,
        d: std::collections::BTreeMap<String, bool>,
    }

    fn toy() -> Toy {
        Toy {
            a: vec![0.1 + 0.2, -1e-300, 123456.789e200, f64::MAX, -0.0],
            b: "héllo".into(),
            c: Some(-5),
            d: [("x".to_string(), true)].into_iter().collect(),
        }
    }

    #[test]
    fn roundtrip_is_bit_exact() {
        let bytes = to_bytes(&toy()).unwrap();
        let back: Toy = from_bytes(&bytes, "t").unwrap();
        assert_eq!(back, toy());
        for (x, y) in back.a.iter().zip(toy().a) {
            assert_eq!(x.to_bits(), y.to_bits());
        }
    }

    #[test]
    fn typed_errors() {
        let bytes = to_bytes(&toy()).unwrap();
        let mut v2 = bytes.clone();
        v2[4] = 2;
        assert!(matches!(
            from_bytes::<Toy>(&v2, "t"),
            Err(MlError::UnsupportedVersion { found: 2, .. })
        ));
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xFF;
        assert!(matches!(
            from_bytes::<Toy>(&bad, "t"),
            Err(MlError::CorruptModel { .. })
        ));
        assert!(matches!(
            from_bytes::<Toy>(&bytes[..bytes.len() - 3], "t"),
            Err(MlError::TruncatedModel { .. })
        ));
        assert!(matches!(
            from_bytes::<Toy>(&bytes[..20], "t"),
            Err(MlError::TruncatedModel { .. })
        ));
        assert!(matches!(
            from_bytes::<Toy>(b"PAR1....", "t"),
            Err(MlError::NotAModelFile { .. })
        ));
    }

    #[test]
    fn non_finite_refused_at_save() {
        let mut t = toy();
        t.a.push(f64::NAN);
        assert!(to_bytes(&t).is_err());
    }
}

//! Python's `set` as dbt's `set()`/`set_strict()` return it: members kept once, in insertion
//! order (so rendering stays deterministic), and compared without regard to order
//! (`set(a) != set(b)` in dbt_utils' equality test compares two models' column names).

use std::cmp::Ordering;
use std::sync::{Arc, Mutex};

use minijinja::value::{DynObject, Enumerator, Object, ObjectRepr, Value, from_args};
use minijinja::{Error, ErrorKind, State};

use crate::jinja::{invalid, lock};

#[derive(Debug)]
pub(crate) struct PySet(Mutex<Vec<Value>>);

impl PySet {
    /// A set of the items of any iterable, duplicates dropped.
    pub fn of(items: impl IntoIterator<Item = Value>) -> Value {
        let mut out: Vec<Value> = Vec::new();
        for x in items {
            if !out.contains(&x) {
                out.push(x);
            }
        }
        Value::from_object(PySet(Mutex::new(out)))
    }

    fn snapshot(&self) -> Vec<Value> {
        lock(&self.0).clone()
    }

    fn contains(&self, x: &Value) -> bool {
        lock(&self.0).contains(x)
    }
}

fn items_of(v: &Value) -> Result<Vec<Value>, Error> {
    Ok(v.try_iter()?.collect())
}

impl Object for PySet {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(&self.0).get(key.as_usize()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.snapshot())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<PySet>()?;
        let (a, b) = (self.snapshot(), other.snapshot());
        if a.len() == b.len() && a.iter().all(|x| b.contains(x)) {
            Some(Ordering::Equal)
        } else {
            Some(a.len().cmp(&b.len()).then(Ordering::Less))
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let mine = self.snapshot();
        match method {
            "add" => {
                let (x,): (Value,) = from_args(args)?;
                let mut v = lock(&self.0);
                if !v.contains(&x) {
                    v.push(x);
                }
                Ok(Value::from(()))
            }
            "update" => {
                for arg in args {
                    for x in items_of(arg)? {
                        let mut v = lock(&self.0);
                        if !v.contains(&x) {
                            v.push(x);
                        }
                    }
                }
                Ok(Value::from(()))
            }
            "discard" | "remove" => {
                let (x,): (Value,) = from_args(args)?;
                let mut v = lock(&self.0);
                match v.iter().position(|y| *y == x) {
                    Some(i) => {
                        v.remove(i);
                        Ok(Value::from(()))
                    }
                    None if method == "discard" => Ok(Value::from(())),
                    None => Err(invalid(format!("set.remove({x}): not in the set"))),
                }
            }
            "union" => {
                let mut all = mine;
                for arg in args {
                    all.extend(items_of(arg)?);
                }
                Ok(PySet::of(all))
            }
            "intersection" | "difference" => {
                let (other,): (Value,) = from_args(args)?;
                let other = items_of(&other)?;
                let keep = method == "intersection";
                Ok(PySet::of(
                    mine.into_iter().filter(|x| other.contains(x) == keep),
                ))
            }
            "issubset" | "issuperset" => {
                let (other,): (Value,) = from_args(args)?;
                let other = items_of(&other)?;
                Ok(Value::from(if method == "issubset" {
                    mine.iter().all(|x| other.contains(x))
                } else {
                    other.iter().all(|x| self.contains(x))
                }))
            }
            "copy" => Ok(PySet::of(mine)),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str) -> String {
        let mut env = minijinja::Environment::new();
        env.add_function("set", |v: Value| -> Result<Value, Error> {
            Ok(PySet::of(items_of(&v)?))
        });
        env.render_str(src, ()).unwrap()
    }

    #[test]
    fn sets_compare_without_order_and_keep_first_seen_order() {
        assert_eq!(
            render("{{ set(['a', 'b']) == set(['b', 'a', 'a']) }}"),
            "True"
        );
        assert_eq!(render("{{ set(['a', 'b']) != set(['a']) }}"), "True");
        assert_eq!(render("{{ set(['b', 'a', 'b']) | join(',') }}"), "b,a");
        assert_eq!(
            render("{% set s = set(['a']) %}{% do s.add('c') %}{{ s | join(',') }} {{ 'c' in s }}"),
            "a,c True"
        );
        assert_eq!(
            render(
                "{{ set(['a','b']).difference(['b']) | join(',') }}|{{ set(['a']).issubset(['a','z']) }}"
            ),
            "a|True"
        );
    }
}

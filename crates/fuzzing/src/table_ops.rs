//! table_ops: a random sequence of `table.get/set/grow/fill/copy/size`, `call_indirect` and
//! externref round trips through wasm, driven from the host against a model of the table. Every
//! trap the model expects must happen (and no other), every externref read back must be the one
//! the model says; after a collection, exactly the externrefs the table and the global still hold
//! are alive (each step's handles are scoped), and every one is released once the store is
//! dropped.

use crate::differential::kiln_config;
use crate::smith::Profile;
use crate::value::{Outcome, TrapKind, kiln_error};
use crate::{Finding, Stats, TargetResult};
use arbitrary::Unstructured;
use kiln::{AsContext, AsContextMut, ExternRef, RootScope, Val};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The table's declared maximum.
const MAX: u32 = 40;

/// The module: an externref table (`$t`, 4 entries initially, at most [`MAX`]), a funcref
/// table for `call_indirect` (`[f10, null, f12, wrong signature]`), an externref global.
pub const MODULE: &str = r#"
(module
  (type $ret (func (result i32)))
  (type $other (func (param i32) (result i32)))
  (table $t 4 40 externref)
  (table $f 4 4 funcref)
  (global $g (mut externref) (ref.null extern))
  (elem (table $f) (i32.const 0) func $f10)
  (elem (table $f) (i32.const 2) func $f12 $wrong)
  (func $f10 (type $ret) i32.const 10)
  (func $f12 (type $ret) i32.const 12)
  (func $wrong (type $other) local.get 0)
  (func (export "get") (param i32) (result externref) local.get 0 table.get $t)
  (func (export "set") (param i32 externref) local.get 0 local.get 1 table.set $t)
  (func (export "grow") (param externref i32) (result i32) local.get 0 local.get 1 table.grow $t)
  (func (export "fill") (param i32 externref i32) local.get 0 local.get 1 local.get 2 table.fill $t)
  (func (export "copy") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 table.copy $t $t)
  (func (export "size") (result i32) table.size $t)
  (func (export "call") (param i32) (result i32) local.get 0 call_indirect $f (type $ret))
  (func (export "pass") (param externref) (result externref) local.get 0)
  (func (export "stash") (param externref) (result externref) global.get $g local.get 0 global.set $g))
"#;

/// What an operation returns (externrefs by id, i32s as u32) or how it traps.
type Expected = Result<Vec<Option<u32>>, Outcome>;

/// The host's payload: counts itself live until dropped.
struct Tracked {
    id: u32,
    live: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

fn id_of(store: &impl AsContext<Data = ()>, v: &Val) -> Option<u32> {
    match v {
        Val::ExternRef(Some(r)) => r.data(store.as_context()).downcast_ref::<Tracked>().map(|t| t.id),
        _ => None,
    }
}

/// An index: usually near the table's length, sometimes anything.
fn index(u: &mut Unstructured<'_>, len: u32) -> arbitrary::Result<u32> {
    Ok(match u.int_in_range(0u8..=4)? {
        0..=2 => u.int_in_range(0..=len.saturating_add(2))?,
        3 => u32::MAX - u.int_in_range(0..=2)?,
        _ => u.arbitrary()?,
    })
}

/// Runs one operation sequence drawn from `data`.
pub fn target(data: &[u8]) -> TargetResult {
    let mut u = Unstructured::new(data);
    let skip = Ok(Stats { skipped: 1, ..Stats::default() });
    let Ok(config) = kiln_config(&mut u, Profile::Kiln, false) else { return skip };
    let live = Arc::new(AtomicUsize::new(0));
    let mut stats = Stats { modules: 1, ..Stats::default() };
    let result = run(&mut u, &config, &live, &mut stats);
    let left = live.load(Ordering::SeqCst);
    result?;
    if left != 0 {
        return Err(Finding::new(format!("{left} host externrefs still alive after the store was dropped"), None));
    }
    Ok(stats)
}

fn run(
    u: &mut Unstructured<'_>,
    config: &kiln::Config,
    live: &Arc<AtomicUsize>,
    stats: &mut Stats,
) -> Result<(), Finding> {
    let fail = |m: String| Finding::new(format!("table_ops: {m}\nmodule:\n{MODULE}"), None);
    let engine = crate::differential::engine(config).map_err(|e| fail(format!("{e:?}")))?;
    let module = kiln::Module::new(&engine, MODULE).map_err(|e| fail(format!("{e:?}")))?;
    let mut store = kiln::Store::new(&engine, ());
    let instance = kiln::Instance::new(&mut store, &module, &[]).map_err(|e| fail(format!("{e:?}")))?;
    let mut model: Vec<Option<u32>> = vec![None; 4];
    let mut global: Option<u32> = None;
    let mut next_id = 0u32;
    let mut log: Vec<String> = Vec::new();
    let steps = u.int_in_range(1usize..=64).unwrap_or(1);
    for _ in 0..steps {
        let Ok(op) = u.int_in_range(0u8..=8) else { break };
        // Handles made for this step keep nothing alive after it.
        let mut scope = RootScope::new(&mut store);
        let store = &mut scope;
        // A fresh host reference or null.
        let mut new_ref = |store: &mut RootScope<&mut kiln::Store<()>>,
                           u: &mut Unstructured<'_>|
         -> (Val, Option<u32>) {
            if u.ratio(1, 4).unwrap_or(true) {
                return (Val::ExternRef(None), None);
            }
            let id = next_id;
            next_id += 1;
            live.fetch_add(1, Ordering::SeqCst);
            (Val::ExternRef(Some(ExternRef::new(store.as_context_mut(), Tracked { id, live: live.clone() }))), Some(id))
        };
        let len = model.len() as u32;
        let oob = Outcome::Trap(TrapKind::TableOutOfBounds);
        let (name, params, expect): (&str, Vec<Val>, Expected) = match op {
            0 => {
                let i = index(u, len).unwrap_or(0);
                let e = model.get(i as usize).map(|v| vec![*v]).ok_or(oob);
                ("get", vec![Val::I32(i as i32)], e)
            }
            1 => {
                let i = index(u, len).unwrap_or(0);
                let (v, id) = new_ref(store, u);
                let e = match model.get_mut(i as usize) {
                    Some(slot) => {
                        *slot = id;
                        Ok(vec![])
                    }
                    None => Err(oob),
                };
                ("set", vec![Val::I32(i as i32), v], e)
            }
            2 => {
                let n = index(u, 8).unwrap_or(0);
                let (v, id) = new_ref(store, u);
                let result = if u64::from(len) + u64::from(n) > u64::from(MAX) {
                    -1
                } else {
                    model.resize(model.len() + n as usize, id);
                    len as i32
                };
                // The result is an i32, checked below apart from references.
                ("grow", vec![v, Val::I32(n as i32)], Ok(vec![Some(result as u32)]))
            }
            3 => {
                let i = index(u, len).unwrap_or(0);
                let n = index(u, len).unwrap_or(0);
                let (v, id) = new_ref(store, u);
                let e = if u64::from(i) + u64::from(n) > u64::from(len) {
                    Err(oob)
                } else {
                    model[i as usize..(i + n) as usize].fill(id);
                    Ok(vec![])
                };
                ("fill", vec![Val::I32(i as i32), v, Val::I32(n as i32)], e)
            }
            4 => {
                let d = index(u, len).unwrap_or(0);
                let s = index(u, len).unwrap_or(0);
                let n = index(u, len).unwrap_or(0);
                let (d64, s64, n64, l64) = (u64::from(d), u64::from(s), u64::from(n), u64::from(len));
                let e = if d64 + n64 > l64 || s64 + n64 > l64 {
                    Err(oob)
                } else {
                    let src: Vec<Option<u32>> = model[s as usize..(s + n) as usize].to_vec();
                    model[d as usize..(d + n) as usize].copy_from_slice(&src);
                    Ok(vec![])
                };
                ("copy", vec![Val::I32(d as i32), Val::I32(s as i32), Val::I32(n as i32)], e)
            }
            5 => ("size", vec![], Ok(vec![Some(len)])),
            6 => {
                let k = index(u, 4).unwrap_or(0);
                let e = match k {
                    0 => Ok(vec![Some(10)]),
                    2 => Ok(vec![Some(12)]),
                    1 => Err(Outcome::Trap(TrapKind::IndirectCallToNull)),
                    3 => Err(Outcome::Trap(TrapKind::BadSignature)),
                    _ => Err(oob),
                };
                ("call", vec![Val::I32(k as i32)], e)
            }
            7 => {
                let (v, id) = new_ref(store, u);
                ("pass", vec![v], Ok(vec![id]))
            }
            _ => {
                let (v, id) = new_ref(store, u);
                let old = std::mem::replace(&mut global, id);
                ("stash", vec![v], Ok(vec![old]))
            }
        };
        log.push(format!("{name}({params:?})"));
        let f = instance.get_func(&mut *store, name).expect("export");
        let n_results = f.ty(&*store).results().len();
        let mut results = vec![Val::I32(0); n_results];
        let got = f.call(&mut *store, &params, &mut results);
        stats.checked += 1;
        let got: Expected = match got {
            Ok(()) => Ok(results
                .iter()
                .map(|v| match v {
                    Val::I32(x) => Some(*x as u32),
                    other => id_of(&*store, other),
                })
                .collect()),
            Err(e) => Err(kiln_error(&e)),
        };
        if got != expect {
            return Err(fail(format!(
                "after {}: expected {expect:?}, got {got:?} (model table: {model:?})",
                log.join("; ")
            )));
        }
    }
    // The table and the global hold the only references left: a collection frees the rest.
    store.gc();
    let mut held: Vec<u32> = model.iter().chain(std::iter::once(&global)).flatten().copied().collect();
    held.sort_unstable();
    held.dedup();
    let alive = live.load(Ordering::SeqCst);
    if alive != held.len() {
        return Err(fail(format!(
            "after {} and a collection: {alive} host externrefs alive, but wasm holds {} ({held:?})",
            log.join("; "),
            held.len()
        )));
    }
    drop(store);
    Ok(())
}

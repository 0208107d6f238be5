//! Plans of small components: nesting, aliases, lowered imports, adapters and their partitioning.

use super::*;

fn plan(wat: &str) -> ComponentPlan {
    let bytes = wat::parse_str(wat).unwrap();
    let translation = Translation::parse(&bytes).unwrap();
    ComponentPlan::new(&translation, &bytes).unwrap()
}

fn count_adapter_modules(plan: &ComponentPlan) -> usize {
    plan.initializers.iter().filter(|i| matches!(i, Initializer::InstantiateAdapterModule { .. })).count()
}

/// A component that lifts `f: func(x: u32) -> u32` from a core module with a memory.
const CALLEE: &str = r#"
  (component $callee
    (core module $m
      (memory (export "mem") 1)
      (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
      (func (export "f") (param i32) (result i32) local.get 0))
    (core instance $i (instantiate $m))
    (func (export "f") (param "x" u32) (result u32)
      (canon lift (core func $i "f") (memory (core memory $i "mem")) (realloc (core func $i "realloc")))))
"#;

/// A component that imports `f` and calls it from a core module.
const CALLER: &str = r#"
  (component $caller
    (import "f" (func $f (param "x" u32) (result u32)))
    (core module $libc (memory (export "mem") 1))
    (core instance $libc (instantiate $libc))
    (core func $f (canon lower (func $f) (memory (core memory $libc "mem"))))
    (core module $m (import "host" "f" (func (param i32) (result i32)))
      (func (export "run") (param i32) (result i32) local.get 0 call 0))
    (core instance $i (instantiate $m (with "host" (instance (export "f" (func $f))))))
    (func (export "run") (param "x" u32) (result u32) (canon lift (core func $i "run"))))
"#;

#[test]
fn lowered_host_import_and_lifted_export() {
    let plan = plan(
        r#"(component
            (import "host" (instance $h (export "log" (func (param "msg" string)))))
            (alias export $h "log" (func $log))
            (core module $m
              (import "env" "log" (func $log (param i32 i32)))
              (memory (export "mem") 1)
              (func (export "run") i32.const 0 i32.const 0 call $log))
            (core module $libc (memory (export "mem") 1))
            (core instance $libc (instantiate $libc))
            (core func $log (canon lower (func $log) (memory (core memory $libc "mem"))))
            (core instance $i (instantiate $m (with "env" (instance (export "log" (func $log))))))
            (func (export "run") (canon lift (core func $i "run")))
            (export "log-again" (func $log)))"#,
    );
    assert_eq!(plan.imports.len(), 1);
    assert_eq!(plan.lowered.len(), 1);
    assert_eq!(plan.lowered[0].import.names, vec!["log".to_string()]);
    assert_eq!(plan.num_core_instances, 2);
    assert!(plan.adapters.is_empty());
    let export = |name: &str| &plan.exports.iter().find(|(n, _)| n == name).unwrap().1;
    assert!(matches!(export("run"), ExportItem::Func { .. }));
    assert!(matches!(export("log-again"), ExportItem::ImportedFunc { path, ty: Some(_) } if path.names == ["log"]));
}

#[test]
fn chain_of_two_instances_gets_one_adapter_module() {
    let plan = plan(&format!(
        r#"(component
            {CALLEE}
            {CALLER}
            (instance $a (instantiate $callee))
            (instance $b (instantiate $caller (with "f" (func $a "f"))))
            (export "run" (func $b "run")))"#
    ));
    assert_eq!(plan.num_component_instances, 3);
    assert_eq!(plan.adapters.len(), 1);
    assert_eq!(plan.adapter_modules, vec![vec![0]]);
    assert_eq!(count_adapter_modules(&plan), 1);
    // The adapter module comes after the callee's instance and before the caller's module using it.
    let positions: Vec<&str> = plan
        .initializers
        .iter()
        .map(|i| match i {
            Initializer::InstantiateModule { args, .. } if args.contains(&CoreDef::Adapter(0)) => "user",
            Initializer::InstantiateModule { .. } => "module",
            Initializer::InstantiateAdapterModule { .. } => "adapters",
        })
        .collect();
    assert_eq!(positions, vec!["module", "module", "adapters", "user"]);
    let adapter = &plan.adapters[0];
    assert_ne!(adapter.lower.instance, adapter.lift.instance);
    assert!(adapter.lift.realloc.is_some() && adapter.lower.memory.is_some());
}

/// A component that imports `f` and `g` and calls both.
const CALLER2: &str = r#"
  (component $caller2
    (import "f" (func $f (param "x" u32) (result u32)))
    (import "g" (func $g (param "x" u32) (result u32)))
    (core module $libc (memory (export "mem") 1))
    (core instance $libc (instantiate $libc))
    (core func $f (canon lower (func $f) (memory (core memory $libc "mem"))))
    (core func $g (canon lower (func $g) (memory (core memory $libc "mem"))))
    (core module $m
      (import "host" "f" (func $f (param i32) (result i32)))
      (import "host" "g" (func $g (param i32) (result i32)))
      (func (export "run") (param i32) (result i32) local.get 0 call $f call $g))
    (core instance $i (instantiate $m (with "host" (instance (export "f" (func $f)) (export "g" (func $g))))))
    (func (export "run") (param "x" u32) (result u32) (canon lift (core func $i "run"))))
"#;

#[test]
fn diamond_shares_adapter_modules_where_ready_together() {
    // a is called by b and c; d calls both b and c. Each caller's adapters also need the caller's
    // own memory, so b's and c's adapters are ready only just before use, while d's two adapters
    // become ready together and share one module.
    let plan = plan(&format!(
        r#"(component
            {CALLEE}
            {CALLER}
            {CALLER2}
            (instance $a (instantiate $callee))
            (instance $b (instantiate $caller (with "f" (func $a "f"))))
            (instance $c (instantiate $caller (with "f" (func $a "f"))))
            (instance $d (instantiate $caller2 (with "f" (func $b "run")) (with "g" (func $c "run"))))
            (export "d" (func $d "run")))"#
    ));
    assert_eq!(plan.adapters.len(), 4);
    assert_eq!(count_adapter_modules(&plan), 3);
    assert_eq!(plan.adapter_modules.last().unwrap().len(), 2);
    let total: usize = plan.adapter_modules.iter().map(Vec::len).sum();
    assert_eq!(total, 4);
}

#[test]
fn transitive_adapter_dependencies_are_placed_first() {
    // b lowers a's export and lifts the result again (lowered-then-lifted between instances), so
    // the adapter into b's lifted function calls another adapter: it must live in a later module.
    let plan = plan(&format!(
        r#"(component
            {CALLEE}
            (component $relay
              (import "f" (func $f (param "x" u32) (result u32)))
              (core func $lowered (canon lower (func $f)))
              (func (export "f") (param "x" u32) (result u32) (canon lift (core func $lowered))))
            {CALLER}
            (instance $a (instantiate $callee))
            (instance $b (instantiate $relay (with "f" (func $a "f"))))
            (instance $c (instantiate $caller (with "f" (func $b "f"))))
            (export "run" (func $c "run")))"#
    ));
    assert_eq!(plan.adapters.len(), 2);
    let relay_to_callee = plan.adapters.iter().position(|a| !matches!(a.callee, CoreDef::Adapter(_))).unwrap() as u32;
    let caller_to_relay = 1 - relay_to_callee;
    assert_eq!(plan.adapters[caller_to_relay as usize].callee, CoreDef::Adapter(relay_to_callee));
    let module_of = |a: u32| plan.adapter_modules.iter().position(|m| m.contains(&a)).unwrap();
    assert!(module_of(relay_to_callee) < module_of(caller_to_relay));
}

#[test]
fn lift_lowered_into_its_own_instance_always_traps() {
    let plan = plan(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (core func $g (canon lower (func $f)))
            (core module $n (import "x" "g" (func)))
            (core instance (instantiate $n (with "x" (instance (export "g" (func $g)))))))"#,
    );
    assert_eq!(plan.always_trap.len(), 1);
    assert_eq!(plan.always_trap[0].trap, crate::Trap::AdapterSameInstance);
    assert!(plan.adapters.is_empty());
}

/// A lift lowered by an ancestor or a descendant of its instance always traps ("cannot enter
/// component instance"); siblings get a fused adapter.
#[test]
fn calls_between_ancestors_and_descendants_trap() {
    let plan = plan(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (component $child
              (import "f" (func $f))
              (core func $f (canon lower (func $f)))
              (core module $n (import "x" "f" (func)) (func (export "g")))
              (core instance $n (instantiate $n (with "x" (instance (export "f" (func $f))))))
              (func (export "g") (canon lift (core func $n "g"))))
            (component $sibling
              (import "g" (func $g))
              (core func $g (canon lower (func $g)))
              (core module $s (import "x" "g" (func)))
              (core instance (instantiate $s (with "x" (instance (export "g" (func $g)))))))
            (instance $c (instantiate $child (with "f" (func $f))))
            (instance (instantiate $sibling (with "g" (func $c "g"))))
            (core func $g (canon lower (func $c "g")))
            (core module $p (import "x" "g" (func)))
            (core instance (instantiate $p (with "x" (instance (export "g" (func $g)))))))"#,
    );
    // The child lowering its parent's `f`, the parent lowering its child's `g`: both trap.
    let traps: Vec<_> = plan.always_trap.iter().map(|t| t.trap).collect();
    assert_eq!(traps, [crate::Trap::CannotEnterComponent, crate::Trap::CannotEnterComponent]);
    // The sibling lowering `g`: an adapter.
    assert_eq!(plan.adapters.len(), 1);
}

#[test]
fn outer_aliases_and_nested_instances() {
    let plan = plan(
        r#"(component
            (core module $shared (func (export "f") (result i32) i32.const 7))
            (component $outer
              (component $inner
                (alias outer 2 $shared (core module $m2))
                (core instance $i (instantiate $m2))
                (func (export "f") (result s32) (canon lift (core func $i "f"))))
              (instance $x (instantiate $inner))
              (export "nested" (instance $x)))
            (instance $o (instantiate $outer))
            (alias export $o "nested" (instance $n))
            (export "api" (instance $n)))"#,
    );
    assert_eq!(plan.num_core_instances, 1);
    let ExportItem::Instance(items) = &plan.exports[0].1 else { panic!("expected an instance export") };
    assert_eq!(items[0].0, "f");
}

#[test]
fn task_built_ins_are_core_functions_with_their_signatures() {
    let plan = plan(
        r#"(component
            (core module $mem (memory (export "mem") 1))
            (core instance $mem (instantiate $mem))
            (type $st (stream u8))
            (canon task.return (result u32) (core func $ret))
            (canon context.get i32 1 (core func $get))
            (canon waitable-set.poll (memory (core memory $mem "mem")) (core func $poll))
            (canon stream.read $st (memory (core memory $mem "mem")) (core func $read))
            (canon stream.new $st (core func $new))
            (core module $m
              (import "" "ret" (func (param i32)))
              (import "" "get" (func (result i32)))
              (import "" "poll" (func (param i32 i32) (result i32)))
              (import "" "read" (func (param i32 i32 i32) (result i32)))
              (import "" "new" (func (result i64))))
            (core instance (instantiate $m (with "" (instance
              (export "ret" (func $ret)) (export "get" (func $get)) (export "poll" (func $poll))
              (export "read" (func $read)) (export "new" (func $new)))))))"#,
    );
    let ops: Vec<_> = plan.task_builtins.iter().map(|b| b.op.clone()).collect();
    assert_eq!(
        ops,
        [
            TaskOp::Return { result: Some(ValueType::U32), string_encoding: StringEncoding::Utf8 },
            TaskOp::ContextGet(1),
            TaskOp::WaitableSetPoll,
            TaskOp::Blocks,
            TaskOp::Unsupported { name: "stream.new", feature: "async canonical ABI" },
        ]
    );
    use FlatType::*;
    let sigs: Vec<_> = plan.task_builtins.iter().map(|b| (b.params.clone(), b.results.clone())).collect();
    assert_eq!(
        sigs,
        [
            (vec![I32], vec![]),
            (vec![], vec![I32]),
            (vec![I32, I32], vec![I32]),
            (vec![I32, I32, I32], vec![I32]),
            (vec![], vec![I64]),
        ]
    );
    // Only the poll keeps its memory (the others do not use one in kiln).
    assert!(plan.task_builtins[2].memory.is_some());
    assert!(plan.task_builtins[3].memory.is_none());
    let Initializer::InstantiateModule { args, .. } = plan.initializers.last().unwrap() else { panic!() };
    assert_eq!(args, &(0..5).map(CoreDef::TaskBuiltin).collect::<Vec<_>>());
    assert!(plan.unsupported.is_empty());
}

#[test]
fn async_calls_become_host_adapters() {
    let plan = plan(
        r#"(component
            (component $c
              (core module $m (func (export "f") (result i32) i32.const 0)
                (func (export "cb") (param i32 i32 i32) (result i32) i32.const 0))
              (core instance $i (instantiate $m))
              (func (export "f") async (canon lift (core func $i "f") async (callback (core func $i "cb")))))
            (component $d
              (import "f" (func $f async))
              (core func $f (canon lower (func $f)))
              (core module $n (import "" "f" (func)))
              (core instance (instantiate $n (with "" (instance (export "f" (func $f)))))))
            (instance $c (instantiate $c))
            (instance (instantiate $d (with "f" (func $c "f"))))
            (export "f" (func $c "f")))"#,
    );
    // No FACT adapter: the host runs the call (the callee is lifted `async`).
    assert!(plan.unsupported.is_empty(), "{:?}", plan.unsupported);
    assert!(plan.adapters.is_empty());
    assert_eq!(plan.host_adapters.len(), 1);
    let adapter = &plan.host_adapters[0];
    assert!(adapter.lift.async_ && adapter.lift.callback.is_some() && adapter.lift.async_type);
    assert!(!adapter.lower.async_ && adapter.lower.async_type);
    let Initializer::InstantiateModule { args, .. } = plan.initializers.last().unwrap() else { panic!() };
    assert_eq!(args, &[CoreDef::HostAdapter(0)]);
    assert!(matches!(&plan.exports[0].1, ExportItem::Func { options, .. } if options.async_));
}

#[test]
fn core_tags_are_core_items() {
    let wat = r#"(component
            (core module $t (tag (export "t") (param i32)))
            (core module $u (import "env" "exn" (tag (param i32))))
            (core instance $t (instantiate $t))
            (alias core export $t "t" (core tag $tag))
            (core instance (instantiate $u (with "env" (instance (export "exn" (tag $tag)))))))"#;
    let bytes = wat::parse_str(wat).unwrap();
    let features = component_features() | wasmparser::WasmFeatures::EXCEPTIONS;
    let translation = Translation::parse_with_features(&bytes, features).unwrap();
    let plan = ComponentPlan::new(&translation, &bytes).unwrap();
    let Initializer::InstantiateModule { args, .. } = &plan.initializers[1] else { panic!() };
    assert_eq!(args, &[CoreDef::Export { instance: 0, name: "t".into() }]);
}

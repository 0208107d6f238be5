//! Traps and wasm backtraces.

pub use kiln_environ::Trap;
use kiln_runtime::code::with_code_at;
use kiln_runtime::traphandlers::RawFrame;
use std::fmt;

/// One wasm frame of a backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    module_name: Option<String>,
    func_index: u32,
    func_name: Option<String>,
    module_offset: Option<u32>,
    func_start: Option<u32>,
    /// Identifies the compiled code of the frame's module (see [`crate::Module::contains_frame`]).
    code: usize,
}

impl FrameInfo {
    /// The module's name (name section), if any.
    pub fn module_name(&self) -> Option<&str> {
        self.module_name.as_deref()
    }
    /// The function's index in its module.
    pub fn func_index(&self) -> u32 {
        self.func_index
    }
    /// The function's name (name section), if any.
    pub fn func_name(&self) -> Option<&str> {
        self.func_name.as_deref()
    }
    /// Byte offset in the module binary of the instruction executing in this frame.
    pub fn module_offset(&self) -> Option<u32> {
        self.module_offset
    }
    /// Byte offset of the executing instruction from the function's first instruction (the
    /// first one in the module binary that has code; local declarations come before it).
    pub fn func_offset(&self) -> Option<u32> {
        self.module_offset?.checked_sub(self.func_start?)
    }
    pub(crate) fn code(&self) -> usize {
        self.code
    }
}

/// The wasm frames active when a trap or host error unwound, innermost first. Attached to trap
/// errors as context: `err.downcast_ref::<WasmBacktrace>()`.
#[derive(Debug, Clone, Default)]
pub struct WasmBacktrace {
    frames: Vec<FrameInfo>,
}

impl WasmBacktrace {
    pub(crate) fn from_raw(raw: &[RawFrame]) -> WasmBacktrace {
        // A function's first wasm offset takes a scan of its module's address map: once per
        // function, however deep the recursion.
        let mut starts: std::collections::HashMap<(usize, u32), Option<u32>> = Default::default();
        let frames = raw
            .iter()
            .enumerate()
            .filter_map(|(i, frame)| {
                // Return addresses point after the call: look up the call itself.
                let pc = if i == 0 { frame.pc } else { frame.pc - 1 };
                with_code_at(pc, |info, offset| {
                    let defined = info.defined_func_at(offset)?;
                    let func_index = info.first_defined_func + defined;
                    let code = info as *const kiln_runtime::code::CodeInfo as usize;
                    let func_start = *starts.entry((code, defined)).or_insert_with(|| {
                        let range = info.functions.get(defined as usize)?;
                        info.address_map
                            .iter()
                            .skip_while(|(k, _)| *k < range.start)
                            .take_while(|(k, _)| *k < range.end)
                            .map(|(_, v)| v)
                            .min()
                    });
                    Some(FrameInfo {
                        module_name: info.module_name.clone(),
                        func_index,
                        func_name: info.func_names.get(func_index).map(str::to_string),
                        module_offset: frame.wasm_offset.or_else(|| info.wasm_offset_at(offset)),
                        func_start,
                        code,
                    })
                })
                .flatten()
            })
            .collect();
        WasmBacktrace { frames }
    }

    /// The frames, innermost first.
    pub fn frames(&self) -> &[FrameInfo] {
        &self.frames
    }
}

impl fmt::Display for WasmBacktrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "wasm backtrace:")?;
        // Deep recursion yields hundreds of identical frames: show the innermost ones only.
        const SHOWN: usize = 32;
        for (i, frame) in self.frames.iter().enumerate().take(SHOWN) {
            write!(f, "  {i:>3}: ")?;
            if let Some(offset) = frame.module_offset {
                write!(f, "{offset:#8x} - ")?;
            }
            write!(f, "{}!", frame.module_name.as_deref().unwrap_or("<unknown>"))?;
            match &frame.func_name {
                Some(name) => write!(f, "{name}")?,
                None => write!(f, "<wasm function {}>", frame.func_index)?,
            }
            writeln!(f)?;
        }
        if self.frames.len() > SHOWN {
            writeln!(f, "       ... {} more frames", self.frames.len() - SHOWN)?;
        }
        Ok(())
    }
}

impl std::error::Error for WasmBacktrace {}

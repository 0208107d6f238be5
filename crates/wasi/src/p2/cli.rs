//! `wasi:cli`: environment, exit, the standard streams and `terminal-*` (a standard stream is a
//! terminal when it is the host's and the host's is one).

use super::bindings::sync::wasi::cli::{
    environment, exit, stderr, stdin, stdout, terminal_input, terminal_output, terminal_stderr, terminal_stdin,
    terminal_stdout,
};
use super::io::{InputStream, OutputStream};
use super::{HostStdio, StdinSource, StdoutSink, WasiCtxView};
use crate::I32Exit;
use anyhow::Result;
use kiln::component::Resource;

impl environment::Host for WasiCtxView<'_> {
    fn get_environment(&mut self) -> Result<Vec<(String, String)>> {
        Ok(self.ctx.env.clone())
    }
    fn get_arguments(&mut self) -> Result<Vec<String>> {
        Ok(self.ctx.args.clone())
    }
    fn initial_cwd(&mut self) -> Result<Option<String>> {
        // Like preview 1, the program has no current directory of its own.
        Ok(None)
    }
}

impl exit::Host for WasiCtxView<'_> {
    fn exit(&mut self, status: Result<(), ()>) -> Result<()> {
        Err(I32Exit(if status.is_ok() { 0 } else { 1 }).into())
    }
    fn exit_with_code(&mut self, status_code: u8) -> Result<()> {
        Err(I32Exit(i32::from(status_code)).into())
    }
}

impl stdin::Host for WasiCtxView<'_> {
    fn get_stdin(&mut self) -> Result<Resource<InputStream>> {
        Ok(self.table.push(InputStream::Stdin(self.ctx.stdin.clone()))?)
    }
}

impl stdout::Host for WasiCtxView<'_> {
    fn get_stdout(&mut self) -> Result<Resource<OutputStream>> {
        Ok(self.table.push(OutputStream::Stdio(self.ctx.stdout.clone()))?)
    }
}

impl stderr::Host for WasiCtxView<'_> {
    fn get_stderr(&mut self) -> Result<Resource<OutputStream>> {
        Ok(self.table.push(OutputStream::Stdio(self.ctx.stderr.clone()))?)
    }
}

/// A `wasi:cli/terminal-input` handle: the program's stdin is the host's, and a terminal.
pub struct TerminalInput;

/// A `wasi:cli/terminal-output` handle: the program's stdout or stderr is the host's, and a
/// terminal.
pub struct TerminalOutput;

/// Whether the program's stdin is the host's terminal.
fn stdin_is_terminal(view: &WasiCtxView<'_>) -> bool {
    use std::io::IsTerminal;
    matches!(*super::io::lock(&view.ctx.stdin), StdinSource::Host) && std::io::stdin().is_terminal()
}

/// Whether `sink` is the host's stdout or stderr, and that is a terminal.
fn output_is_terminal(sink: &super::io::SharedWriter) -> bool {
    use std::io::IsTerminal;
    match *super::io::lock(sink) {
        StdoutSink::Host(HostStdio::Stdout) => std::io::stdout().is_terminal(),
        StdoutSink::Host(HostStdio::Stderr) => std::io::stderr().is_terminal(),
        StdoutSink::Writer(_) => false,
    }
}

impl terminal_input::Host for WasiCtxView<'_> {}

impl terminal_input::HostTerminalInput for WasiCtxView<'_> {
    fn drop(&mut self, rep: Resource<TerminalInput>) -> Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl terminal_output::Host for WasiCtxView<'_> {}

impl terminal_output::HostTerminalOutput for WasiCtxView<'_> {
    fn drop(&mut self, rep: Resource<TerminalOutput>) -> Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl terminal_stdin::Host for WasiCtxView<'_> {
    fn get_terminal_stdin(&mut self) -> Result<Option<Resource<TerminalInput>>> {
        if !stdin_is_terminal(self) {
            return Ok(None);
        }
        Ok(Some(self.table.push(TerminalInput)?))
    }
}

impl terminal_stdout::Host for WasiCtxView<'_> {
    fn get_terminal_stdout(&mut self) -> Result<Option<Resource<TerminalOutput>>> {
        if !output_is_terminal(&self.ctx.stdout) {
            return Ok(None);
        }
        Ok(Some(self.table.push(TerminalOutput)?))
    }
}

impl terminal_stderr::Host for WasiCtxView<'_> {
    fn get_terminal_stderr(&mut self) -> Result<Option<Resource<TerminalOutput>>> {
        if !output_is_terminal(&self.ctx.stderr) {
            return Ok(None);
        }
        Ok(Some(self.table.push(TerminalOutput)?))
    }
}

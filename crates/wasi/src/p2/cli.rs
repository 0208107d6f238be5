//! `wasi:cli`: environment, exit, the standard streams and `terminal-*`.

use super::WasiCtxView;
use super::bindings::sync::wasi::cli::{
    environment, exit, stderr, stdin, stdout, terminal_input, terminal_output, terminal_stderr, terminal_stdin,
    terminal_stdout,
};
use super::io::{InputStream, OutputStream};
use crate::I32Exit;
use anyhow::Result;
use kiln::component::Resource;
use terminal_input::TerminalInput;
use terminal_output::TerminalOutput;

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

// No terminal is offered to the program (`get-terminal-*` is `none`, which WASI defines as
// "not a terminal"), so no `terminal-input`/`terminal-output` handle can exist to be dropped.

impl terminal_input::Host for WasiCtxView<'_> {}

impl terminal_input::HostTerminalInput for WasiCtxView<'_> {
    fn drop(&mut self, _rep: Resource<TerminalInput>) -> Result<()> {
        anyhow::bail!("terminal-input handle that kiln never created")
    }
}

impl terminal_output::Host for WasiCtxView<'_> {}

impl terminal_output::HostTerminalOutput for WasiCtxView<'_> {
    fn drop(&mut self, _rep: Resource<TerminalOutput>) -> Result<()> {
        anyhow::bail!("terminal-output handle that kiln never created")
    }
}

impl terminal_stdin::Host for WasiCtxView<'_> {
    fn get_terminal_stdin(&mut self) -> Result<Option<Resource<TerminalInput>>> {
        Ok(None)
    }
}

impl terminal_stdout::Host for WasiCtxView<'_> {
    fn get_terminal_stdout(&mut self) -> Result<Option<Resource<TerminalOutput>>> {
        Ok(None)
    }
}

impl terminal_stderr::Host for WasiCtxView<'_> {
    fn get_terminal_stderr(&mut self) -> Result<Option<Resource<TerminalOutput>>> {
        Ok(None)
    }
}

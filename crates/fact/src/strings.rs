//! Strings: validation of the source encoding and transcoding into the destination encoding, in
//! wasm, following the Canonical ABI's `load_string` / `store_string` algorithms (including their
//! `realloc` calls: optimistic first allocation, worst-case growth, shrinking at the end).

use crate::adapter::{Bytes, Dst, Gen, Op, Src, memarg};
use kiln_environ::Trap;
use kiln_environ::component::{StringEncoding, UTF16_TAG};
use wasm_encoder::{Instruction as I, ValType};

/// A source's simple encoding (a `latin1+utf16` string is one of the last two at run time).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Enc {
    Utf8,
    Utf16,
    Latin1,
}

impl Gen {
    fn src_mem(&self) -> u32 {
        self.src.memory.expect("memory presence checked")
    }

    fn dst_mem(&self) -> u32 {
        self.dst.memory.expect("memory presence checked")
    }

    /// `cond_local >= end_local` exits to `exit`.
    fn exit_if_ge(&mut self, a: u32, b: u32, exit: crate::adapter::Label) {
        self.get(a);
        self.get(b);
        self.ins(I::I32GeU);
        self.br_if(exit);
    }

    /// Translates a string from `src` to `dst`.
    pub(crate) fn translate_string(&mut self, src: Src<'_>, dst: Dst<'_>) {
        let (sp, sl) = (self.local(ValType::I32), self.local(ValType::I32));
        self.read_i32(src, 0, 0);
        self.set(sp);
        self.read_i32(src, 1, 4);
        self.set(sl);
        let (dp, dl) = (self.local(ValType::I32), self.local(ValType::I32));
        match self.src.encoding {
            StringEncoding::Utf8 => self.string_from(Enc::Utf8, false, sp, sl, dp, dl),
            StringEncoding::Utf16 => self.string_from(Enc::Utf16, false, sp, sl, dp, dl),
            StringEncoding::CompactUtf16 => {
                self.get(sl);
                self.i32(UTF16_TAG as i32);
                self.ins(I::I32And);
                self.if_();
                let n = self.local(ValType::I32);
                self.get(sl);
                self.i32(!UTF16_TAG as i32);
                self.ins(I::I32And);
                self.set(n);
                self.string_from(Enc::Utf16, true, sp, n, dp, dl);
                self.else_();
                self.string_from(Enc::Latin1, true, sp, sl, dp, dl);
                self.end();
            }
        }
        self.write_pair(dst, dp, dl);
    }

    /// Checks and validates the source string (`n` code units at `sp` in `enc`), then stores it on
    /// the destination side, setting `dp` / `dl` to the destination pointer and tagged length.
    fn string_from(&mut self, enc: Enc, compact: bool, sp: u32, n: u32, dp: u32, dl: u32) {
        let src_mem = self.src_mem();
        let unit = if enc == Enc::Utf16 { 2 } else { 1 };
        let bytes64 = self.mul64(n, unit);
        self.check_length(bytes64);
        let align = if self.src.encoding == StringEncoding::Utf8 { 1 } else { 2 };
        self.check_align(sp, align);
        self.check_bounds(src_mem, sp, Bytes::L64(bytes64));
        let bytes = self.local(ValType::I32);
        self.get(bytes64);
        self.ins(I::I32WrapI64);
        self.set(bytes);
        let end = self.local(ValType::I32);
        self.get(sp);
        self.get(bytes);
        self.ins(I::I32Add);
        self.set(end);

        let dst_encoding = self.dst.encoding;
        let probably_utf16 = compact && enc == Enc::Utf16 && dst_encoding == StringEncoding::CompactUtf16;
        let mut wide = None;
        match enc {
            Enc::Utf8 => self.validate_utf8(sp, end),
            Enc::Utf16 => {
                let acc = if probably_utf16 {
                    let acc = self.local(ValType::I32);
                    self.i32(0);
                    self.set(acc);
                    Some(acc)
                } else {
                    None
                };
                self.validate_utf16(sp, end, acc);
                wide = acc;
            }
            Enc::Latin1 => {}
        }

        match (dst_encoding, enc) {
            (StringEncoding::Utf8, Enc::Utf8) => self.copy_string(enc, 1, 1, sp, n, dp, dl),
            (StringEncoding::Utf8, Enc::Utf16) => self.store_utf8(enc, 3, sp, end, n, dp, dl),
            (StringEncoding::Utf8, Enc::Latin1) => self.store_utf8(enc, 2, sp, end, n, dp, dl),
            (StringEncoding::Utf16, Enc::Utf8) => self.utf8_to_utf16(sp, end, n, dp, dl),
            (StringEncoding::Utf16, _) => self.copy_string(enc, 2, 2, sp, n, dp, dl),
            (StringEncoding::CompactUtf16, Enc::Latin1) => self.copy_string(enc, 1, 2, sp, n, dp, dl),
            (StringEncoding::CompactUtf16, Enc::Utf16) if probably_utf16 => {
                self.probably_utf16(sp, n, bytes, wide.unwrap(), dp, dl)
            }
            (StringEncoding::CompactUtf16, _) => self.store_latin1_or_utf16(enc, sp, end, n, dp, dl),
        }
    }

    /// Allocates `dst_unit * n` bytes and copies (or inflates Latin-1 to UTF-16): the spec's
    /// `store_string_copy`.
    #[allow(clippy::too_many_arguments)]
    fn copy_string(&mut self, enc: Enc, dst_unit: u32, dst_align: u32, sp: u32, n: u32, dp: u32, dl: u32) {
        let (src_mem, dst_mem) = (self.src_mem(), self.dst_mem());
        let dst_bytes64 = self.mul64(n, dst_unit);
        self.check_length(dst_bytes64);
        let dst_bytes = self.local(ValType::I32);
        self.get(dst_bytes64);
        self.ins(I::I32WrapI64);
        self.set(dst_bytes);
        self.realloc(self.dst, Op::C(0), Op::C(0), dst_align, Op::L(dst_bytes), dp);
        self.check_align(dp, dst_align);
        self.check_bounds(dst_mem, dp, Bytes::L32(dst_bytes));
        let src_unit = if enc == Enc::Utf16 { 2 } else { 1 };
        if src_unit == dst_unit {
            self.get(dp);
            self.get(sp);
            self.get(dst_bytes);
            self.ins(I::MemoryCopy { src_mem, dst_mem });
        } else {
            // Latin-1 to UTF-16: one zero-extended unit per byte.
            let (i, s, d) = (self.local(ValType::I32), self.local(ValType::I32), self.local(ValType::I32));
            self.i32(0);
            self.set(i);
            self.get(sp);
            self.set(s);
            self.get(dp);
            self.set(d);
            let exit = self.block();
            let top = self.loop_();
            self.exit_if_ge(i, n, exit);
            self.get(d);
            self.get(s);
            self.ins(I::I32Load8U(memarg(src_mem, 0, 0)));
            self.ins(I::I32Store16(memarg(dst_mem, 0, 0)));
            self.add_to(i, 1);
            self.add_to(s, 1);
            self.add_to(d, 2);
            self.br(top);
            self.end();
            self.end();
        }
        self.get(n);
        self.set(dl);
    }

    /// UTF-16 or Latin-1 to UTF-8: optimistic one byte per code unit, then a worst-case
    /// reallocation at the first non-ASCII code point and a shrinking one at the end.
    #[allow(clippy::too_many_arguments)]
    fn store_utf8(&mut self, enc: Enc, factor: u32, sp: u32, end: u32, n: u32, dp: u32, dl: u32) {
        let dst_mem = self.dst_mem();
        self.realloc(self.dst, Op::C(0), Op::C(0), 1, Op::L(n), dp);
        self.check_bounds(dst_mem, dp, Bytes::L32(n));
        let (s, i, cp) = (self.local(ValType::I32), self.local(ValType::I32), self.local(ValType::I32));
        self.get(sp);
        self.set(s);
        self.i32(0);
        self.set(i);
        self.get(n);
        self.set(dl);
        let exit = self.block();
        let top = self.loop_();
        self.exit_if_ge(s, end, exit);
        self.decode(enc, s, cp);
        self.get(cp);
        self.i32(0x80);
        self.ins(I::I32LtU);
        self.if_();
        self.get(dp);
        self.get(i);
        self.ins(I::I32Add);
        self.get(cp);
        self.ins(I::I32Store8(memarg(dst_mem, 0, 0)));
        self.add_to(i, 1);
        self.br(top);
        self.end();
        self.end();
        // A non-ASCII code point: grow to the worst case and finish the copy.
        let worst64 = self.mul64(n, factor);
        self.check_length(worst64);
        let worst = self.local(ValType::I32);
        self.get(worst64);
        self.ins(I::I32WrapI64);
        self.set(worst);
        self.realloc(self.dst, Op::L(dp), Op::L(n), 1, Op::L(worst), dp);
        self.check_bounds(dst_mem, dp, Bytes::L32(worst));
        let d = self.local(ValType::I32);
        self.get(dp);
        self.get(i);
        self.ins(I::I32Add);
        self.set(d);
        self.encode_utf8(cp, d);
        self.transcode_rest(enc, s, end, cp, d, false);
        let written = self.local(ValType::I32);
        self.get(d);
        self.get(dp);
        self.ins(I::I32Sub);
        self.set(written);
        self.get(worst);
        self.get(written);
        self.ins(I::I32GtU);
        self.if_();
        self.realloc(self.dst, Op::L(dp), Op::L(worst), 1, Op::L(written), dp);
        self.check_bounds(dst_mem, dp, Bytes::L32(written));
        self.end();
        self.get(written);
        self.set(dl);
        self.end();
    }

    /// UTF-8 to UTF-16: worst case two bytes per source byte, shrunk at the end.
    fn utf8_to_utf16(&mut self, sp: u32, end: u32, n: u32, dp: u32, dl: u32) {
        let dst_mem = self.dst_mem();
        let worst64 = self.mul64(n, 2);
        self.check_length(worst64);
        let worst = self.local(ValType::I32);
        self.get(worst64);
        self.ins(I::I32WrapI64);
        self.set(worst);
        self.realloc(self.dst, Op::C(0), Op::C(0), 2, Op::L(worst), dp);
        self.check_align(dp, 2);
        self.check_bounds(dst_mem, dp, Bytes::L32(worst));
        let (s, d, cp) = (self.local(ValType::I32), self.local(ValType::I32), self.local(ValType::I32));
        self.get(sp);
        self.set(s);
        self.get(dp);
        self.set(d);
        self.transcode_rest(Enc::Utf8, s, end, cp, d, true);
        let written = self.local(ValType::I32);
        self.get(d);
        self.get(dp);
        self.ins(I::I32Sub);
        self.set(written);
        self.get(written);
        self.get(worst);
        self.ins(I::I32LtU);
        self.if_();
        self.realloc(self.dst, Op::L(dp), Op::L(worst), 2, Op::L(written), dp);
        self.check_align(dp, 2);
        self.check_bounds(dst_mem, dp, Bytes::L32(written));
        self.end();
        self.get(written);
        self.i32(1);
        self.ins(I::I32ShrU);
        self.set(dl);
    }

    /// UTF-8 or UTF-16 to `latin1+utf16`: optimistic Latin-1, inflated in place to UTF-16 at the
    /// first code point above U+00FF.
    #[allow(clippy::too_many_arguments)]
    fn store_latin1_or_utf16(&mut self, enc: Enc, sp: u32, end: u32, n: u32, dp: u32, dl: u32) {
        let dst_mem = self.dst_mem();
        self.realloc(self.dst, Op::C(0), Op::C(0), 2, Op::L(n), dp);
        self.check_align(dp, 2);
        self.check_bounds(dst_mem, dp, Bytes::L32(n));
        let (s, k, cp) = (self.local(ValType::I32), self.local(ValType::I32), self.local(ValType::I32));
        self.get(sp);
        self.set(s);
        self.i32(0);
        self.set(k);
        let exit = self.block();
        let top = self.loop_();
        // End of the source: all of it fit in Latin-1.
        self.get(s);
        self.get(end);
        self.ins(I::I32GeU);
        self.if_();
        self.get(k);
        self.get(n);
        self.ins(I::I32LtU);
        self.if_();
        self.realloc(self.dst, Op::L(dp), Op::L(n), 2, Op::L(k), dp);
        self.check_align(dp, 2);
        self.check_bounds(dst_mem, dp, Bytes::L32(k));
        self.end();
        self.get(k);
        self.set(dl);
        self.br(exit);
        self.end();
        self.decode(enc, s, cp);
        self.get(cp);
        self.i32(0x100);
        self.ins(I::I32LtU);
        self.if_();
        self.get(dp);
        self.get(k);
        self.ins(I::I32Add);
        self.get(cp);
        self.ins(I::I32Store8(memarg(dst_mem, 0, 0)));
        self.add_to(k, 1);
        self.br(top);
        self.end();
        self.end();
        // Outside Latin-1: grow, inflate what was copied, finish in UTF-16.
        let worst64 = self.mul64(n, 2);
        self.check_length(worst64);
        let worst = self.local(ValType::I32);
        self.get(worst64);
        self.ins(I::I32WrapI64);
        self.set(worst);
        self.realloc(self.dst, Op::L(dp), Op::L(n), 2, Op::L(worst), dp);
        self.check_align(dp, 2);
        self.check_bounds(dst_mem, dp, Bytes::L32(worst));
        let j = self.local(ValType::I32);
        self.get(k);
        self.set(j);
        let inflated = self.block();
        let back = self.loop_();
        self.get(j);
        self.ins(I::I32Eqz);
        self.br_if(inflated);
        self.add_to(j, -1);
        self.get(dp);
        self.get(j);
        self.i32(1);
        self.ins(I::I32Shl);
        self.ins(I::I32Add);
        self.get(dp);
        self.get(j);
        self.ins(I::I32Add);
        self.ins(I::I32Load8U(memarg(dst_mem, 0, 0)));
        self.ins(I::I32Store16(memarg(dst_mem, 0, 1)));
        self.br(back);
        self.end();
        self.end();
        let d = self.local(ValType::I32);
        self.get(dp);
        self.get(k);
        self.i32(1);
        self.ins(I::I32Shl);
        self.ins(I::I32Add);
        self.set(d);
        self.encode_utf16(cp, d);
        self.transcode_rest(enc, s, end, cp, d, true);
        let written = self.local(ValType::I32);
        self.get(d);
        self.get(dp);
        self.ins(I::I32Sub);
        self.set(written);
        self.get(worst);
        self.get(written);
        self.ins(I::I32GtU);
        self.if_();
        self.realloc(self.dst, Op::L(dp), Op::L(worst), 2, Op::L(written), dp);
        self.check_align(dp, 2);
        self.check_bounds(dst_mem, dp, Bytes::L32(written));
        self.end();
        self.get(written);
        self.i32(1);
        self.ins(I::I32ShrU);
        self.i32(UTF16_TAG as i32);
        self.ins(I::I32Or);
        self.set(dl);
        self.end();
    }

    /// `latin1+utf16` (UTF-16 form) to `latin1+utf16`: copy as UTF-16, deflate to Latin-1 if no code
    /// unit needed more than a byte (`wide` holds the OR of all units).
    fn probably_utf16(&mut self, sp: u32, n: u32, bytes: u32, wide: u32, dp: u32, dl: u32) {
        let (src_mem, dst_mem) = (self.src_mem(), self.dst_mem());
        self.realloc(self.dst, Op::C(0), Op::C(0), 2, Op::L(bytes), dp);
        self.check_align(dp, 2);
        self.check_bounds(dst_mem, dp, Bytes::L32(bytes));
        self.get(dp);
        self.get(sp);
        self.get(bytes);
        self.ins(I::MemoryCopy { src_mem, dst_mem });
        self.get(wide);
        self.i32(0xFF00);
        self.ins(I::I32And);
        self.if_();
        self.get(n);
        self.i32(UTF16_TAG as i32);
        self.ins(I::I32Or);
        self.set(dl);
        self.else_();
        let i = self.local(ValType::I32);
        self.i32(0);
        self.set(i);
        let exit = self.block();
        let top = self.loop_();
        self.exit_if_ge(i, n, exit);
        self.get(dp);
        self.get(i);
        self.ins(I::I32Add);
        self.get(dp);
        self.get(i);
        self.i32(1);
        self.ins(I::I32Shl);
        self.ins(I::I32Add);
        self.ins(I::I32Load8U(memarg(dst_mem, 0, 0)));
        self.ins(I::I32Store8(memarg(dst_mem, 0, 0)));
        self.add_to(i, 1);
        self.br(top);
        self.end();
        self.end();
        self.realloc(self.dst, Op::L(dp), Op::L(bytes), 1, Op::L(n), dp);
        self.check_bounds(dst_mem, dp, Bytes::L32(n));
        self.get(n);
        self.set(dl);
        self.end();
    }

    /// Decodes and re-encodes (as UTF-16 if `utf16`, else UTF-8) the rest of the source.
    fn transcode_rest(&mut self, enc: Enc, s: u32, end: u32, cp: u32, d: u32, utf16: bool) {
        let exit = self.block();
        let top = self.loop_();
        self.exit_if_ge(s, end, exit);
        self.decode(enc, s, cp);
        if utf16 {
            self.encode_utf16(cp, d);
        } else {
            self.encode_utf8(cp, d);
        }
        self.br(top);
        self.end();
        self.end();
    }

    /// Pushes `(byte at s + k) & 0x3F` shifted left by `shift`.
    fn continuation(&mut self, s: u32, k: u32, shift: i32) {
        let mem = self.src_mem();
        self.get(s);
        self.ins(I::I32Load8U(memarg(mem, k, 0)));
        self.i32(0x3F);
        self.ins(I::I32And);
        if shift > 0 {
            self.i32(shift);
            self.ins(I::I32Shl);
        }
    }

    /// Decodes one code point of (already validated) source text at `s` into `cp`, advancing `s`.
    fn decode(&mut self, enc: Enc, s: u32, cp: u32) {
        let mem = self.src_mem();
        match enc {
            Enc::Latin1 => {
                self.get(s);
                self.ins(I::I32Load8U(memarg(mem, 0, 0)));
                self.set(cp);
                self.add_to(s, 1);
            }
            Enc::Utf16 => {
                self.get(s);
                self.ins(I::I32Load16U(memarg(mem, 0, 1)));
                self.set(cp);
                self.get(cp);
                self.i32(0xFC00);
                self.ins(I::I32And);
                self.i32(0xD800);
                self.ins(I::I32Eq);
                self.if_();
                self.get(cp);
                self.i32(0x3FF);
                self.ins(I::I32And);
                self.i32(10);
                self.ins(I::I32Shl);
                self.get(s);
                self.ins(I::I32Load16U(memarg(mem, 2, 1)));
                self.i32(0x3FF);
                self.ins(I::I32And);
                self.ins(I::I32Or);
                self.i32(0x10000);
                self.ins(I::I32Add);
                self.set(cp);
                self.add_to(s, 4);
                self.else_();
                self.add_to(s, 2);
                self.end();
            }
            Enc::Utf8 => {
                self.get(s);
                self.ins(I::I32Load8U(memarg(mem, 0, 0)));
                self.set(cp);
                self.get(cp);
                self.i32(0x80);
                self.ins(I::I32LtU);
                self.if_();
                self.add_to(s, 1);
                self.else_();
                self.get(cp);
                self.i32(0xE0);
                self.ins(I::I32LtU);
                self.if_();
                self.get(cp);
                self.i32(0x1F);
                self.ins(I::I32And);
                self.i32(6);
                self.ins(I::I32Shl);
                self.continuation(s, 1, 0);
                self.ins(I::I32Or);
                self.set(cp);
                self.add_to(s, 2);
                self.else_();
                self.get(cp);
                self.i32(0xF0);
                self.ins(I::I32LtU);
                self.if_();
                self.get(cp);
                self.i32(0x0F);
                self.ins(I::I32And);
                self.i32(12);
                self.ins(I::I32Shl);
                self.continuation(s, 1, 6);
                self.ins(I::I32Or);
                self.continuation(s, 2, 0);
                self.ins(I::I32Or);
                self.set(cp);
                self.add_to(s, 3);
                self.else_();
                self.get(cp);
                self.i32(0x07);
                self.ins(I::I32And);
                self.i32(18);
                self.ins(I::I32Shl);
                self.continuation(s, 1, 12);
                self.ins(I::I32Or);
                self.continuation(s, 2, 6);
                self.ins(I::I32Or);
                self.continuation(s, 3, 0);
                self.ins(I::I32Or);
                self.set(cp);
                self.add_to(s, 4);
                self.end();
                self.end();
                self.end();
            }
        }
    }

    /// Stores byte `prefix | ((cp >> shift) & mask)` at `d + offset` in the destination memory.
    fn utf8_byte(&mut self, cp: u32, d: u32, offset: u32, prefix: i32, shift: i32, mask: i32) {
        let mem = self.dst_mem();
        self.get(d);
        self.get(cp);
        if shift > 0 {
            self.i32(shift);
            self.ins(I::I32ShrU);
        }
        if mask != 0 {
            self.i32(mask);
            self.ins(I::I32And);
        }
        if prefix != 0 {
            self.i32(prefix);
            self.ins(I::I32Or);
        }
        self.ins(I::I32Store8(memarg(mem, offset, 0)));
    }

    /// Encodes `cp` as UTF-8 at `d` in the destination memory, advancing `d`.
    fn encode_utf8(&mut self, cp: u32, d: u32) {
        self.get(cp);
        self.i32(0x80);
        self.ins(I::I32LtU);
        self.if_();
        self.utf8_byte(cp, d, 0, 0, 0, 0);
        self.add_to(d, 1);
        self.else_();
        self.get(cp);
        self.i32(0x800);
        self.ins(I::I32LtU);
        self.if_();
        self.utf8_byte(cp, d, 0, 0xC0, 6, 0);
        self.utf8_byte(cp, d, 1, 0x80, 0, 0x3F);
        self.add_to(d, 2);
        self.else_();
        self.get(cp);
        self.i32(0x10000);
        self.ins(I::I32LtU);
        self.if_();
        self.utf8_byte(cp, d, 0, 0xE0, 12, 0);
        self.utf8_byte(cp, d, 1, 0x80, 6, 0x3F);
        self.utf8_byte(cp, d, 2, 0x80, 0, 0x3F);
        self.add_to(d, 3);
        self.else_();
        self.utf8_byte(cp, d, 0, 0xF0, 18, 0);
        self.utf8_byte(cp, d, 1, 0x80, 12, 0x3F);
        self.utf8_byte(cp, d, 2, 0x80, 6, 0x3F);
        self.utf8_byte(cp, d, 3, 0x80, 0, 0x3F);
        self.add_to(d, 4);
        self.end();
        self.end();
        self.end();
    }

    /// Encodes `cp` as UTF-16 at `d` in the destination memory, advancing `d`.
    fn encode_utf16(&mut self, cp: u32, d: u32) {
        let mem = self.dst_mem();
        self.get(cp);
        self.i32(0x10000);
        self.ins(I::I32LtU);
        self.if_();
        self.get(d);
        self.get(cp);
        self.ins(I::I32Store16(memarg(mem, 0, 1)));
        self.add_to(d, 2);
        self.else_();
        self.get(d);
        self.get(cp);
        self.i32(0x10000);
        self.ins(I::I32Sub);
        self.i32(10);
        self.ins(I::I32ShrU);
        self.i32(0xD800);
        self.ins(I::I32Or);
        self.ins(I::I32Store16(memarg(mem, 0, 1)));
        self.get(d);
        self.get(cp);
        self.i32(0x3FF);
        self.ins(I::I32And);
        self.i32(0xDC00);
        self.ins(I::I32Or);
        self.ins(I::I32Store16(memarg(mem, 2, 1)));
        self.add_to(d, 4);
        self.end();
    }

    /// Traps `InvalidUtf8` unless `[s, end)` of the source memory is well-formed UTF-8 (no
    /// overlong forms, surrogates or code points above U+10FFFF). Eight ASCII bytes at a time
    /// where possible.
    fn validate_utf8(&mut self, sp: u32, end: u32) {
        let mem = self.src_mem();
        let (s, b, n, cp, min) = (
            self.local(ValType::I32),
            self.local(ValType::I32),
            self.local(ValType::I32),
            self.local(ValType::I32),
            self.local(ValType::I32),
        );
        self.get(sp);
        self.set(s);
        let exit = self.block();
        let top = self.loop_();
        // Fast path: eight ASCII bytes.
        self.get(end);
        self.get(s);
        self.ins(I::I32Sub);
        self.i32(8);
        self.ins(I::I32GeU);
        self.if_();
        self.get(s);
        self.ins(I::I64Load(memarg(mem, 0, 0)));
        self.ins(I::I64Const(0x8080_8080_8080_8080_u64 as i64));
        self.ins(I::I64And);
        self.ins(I::I64Eqz);
        self.if_();
        self.add_to(s, 8);
        self.br(top);
        self.end();
        self.end();
        self.exit_if_ge(s, end, exit);
        self.get(s);
        self.ins(I::I32Load8U(memarg(mem, 0, 0)));
        self.set(b);
        self.get(b);
        self.i32(0x80);
        self.ins(I::I32LtU);
        self.if_();
        self.add_to(s, 1);
        self.br(top);
        self.end();
        self.get(b);
        self.i32(0xC2);
        self.ins(I::I32LtU);
        self.trap_if(Trap::InvalidUtf8);
        let lead = |g: &mut Gen, len: i32, mask: i32, minimum: i32| {
            g.i32(len);
            g.set(n);
            g.get(b);
            g.i32(mask);
            g.ins(I::I32And);
            g.set(cp);
            g.i32(minimum);
            g.set(min);
        };
        self.get(b);
        self.i32(0xE0);
        self.ins(I::I32LtU);
        self.if_();
        lead(self, 2, 0x1F, 0x80);
        self.else_();
        self.get(b);
        self.i32(0xF0);
        self.ins(I::I32LtU);
        self.if_();
        lead(self, 3, 0x0F, 0x800);
        self.else_();
        self.get(b);
        self.i32(0xF5);
        self.ins(I::I32LtU);
        self.if_();
        lead(self, 4, 0x07, 0x10000);
        self.else_();
        self.trap(Trap::InvalidUtf8);
        self.end();
        self.end();
        self.end();
        // The sequence must fit before the end.
        self.get(end);
        self.get(s);
        self.ins(I::I32Sub);
        self.get(n);
        self.ins(I::I32LtU);
        self.trap_if(Trap::InvalidUtf8);
        let cont = |g: &mut Gen, k: u32| {
            g.get(s);
            g.ins(I::I32Load8U(memarg(mem, k, 0)));
            g.set(b);
            g.get(b);
            g.i32(0xC0);
            g.ins(I::I32And);
            g.i32(0x80);
            g.ins(I::I32Ne);
            g.trap_if(Trap::InvalidUtf8);
            g.get(cp);
            g.i32(6);
            g.ins(I::I32Shl);
            g.get(b);
            g.i32(0x3F);
            g.ins(I::I32And);
            g.ins(I::I32Or);
            g.set(cp);
        };
        cont(self, 1);
        self.get(n);
        self.i32(3);
        self.ins(I::I32GeU);
        self.if_();
        cont(self, 2);
        self.end();
        self.get(n);
        self.i32(4);
        self.ins(I::I32Eq);
        self.if_();
        cont(self, 3);
        self.end();
        self.get(cp);
        self.get(min);
        self.ins(I::I32LtU);
        self.trap_if(Trap::InvalidUtf8);
        self.get(cp);
        self.i32(0x10FFFF);
        self.ins(I::I32GtU);
        self.trap_if(Trap::InvalidUtf8);
        self.get(cp);
        self.i32(0xFFFF_F800_u32 as i32);
        self.ins(I::I32And);
        self.i32(0xD800);
        self.ins(I::I32Eq);
        self.trap_if(Trap::InvalidUtf8);
        self.get(s);
        self.get(n);
        self.ins(I::I32Add);
        self.set(s);
        self.br(top);
        self.end();
        self.end();
    }

    /// Traps `InvalidUtf16` on an unpaired surrogate in `[sp, end)` of the source memory; ORs every
    /// code unit into `acc` if given.
    fn validate_utf16(&mut self, sp: u32, end: u32, acc: Option<u32>) {
        let mem = self.src_mem();
        let (s, u) = (self.local(ValType::I32), self.local(ValType::I32));
        self.get(sp);
        self.set(s);
        let exit = self.block();
        let top = self.loop_();
        self.exit_if_ge(s, end, exit);
        self.get(s);
        self.ins(I::I32Load16U(memarg(mem, 0, 1)));
        self.set(u);
        if let Some(acc) = acc {
            self.get(acc);
            self.get(u);
            self.ins(I::I32Or);
            self.set(acc);
        }
        self.get(u);
        self.i32(0xF800);
        self.ins(I::I32And);
        self.i32(0xD800);
        self.ins(I::I32Eq);
        self.if_();
        self.get(u);
        self.i32(0xDC00);
        self.ins(I::I32GeU);
        self.trap_if(Trap::InvalidUtf16);
        self.get(end);
        self.get(s);
        self.ins(I::I32Sub);
        self.i32(4);
        self.ins(I::I32LtU);
        self.trap_if(Trap::InvalidUtf16);
        self.get(s);
        self.ins(I::I32Load16U(memarg(mem, 2, 1)));
        self.i32(0xFC00);
        self.ins(I::I32And);
        self.i32(0xDC00);
        self.ins(I::I32Ne);
        self.trap_if(Trap::InvalidUtf16);
        self.add_to(s, 4);
        self.else_();
        self.add_to(s, 2);
        self.end();
        self.br(top);
        self.end();
        self.end();
    }
}

//! Strings: validation of the source encoding and transcoding into the destination encoding, in
//! wasm, following the Canonical ABI's `load_string` / `store_string` algorithms (including their
//! `realloc` calls: optimistic first allocation, worst-case growth, shrinking at the end).

use crate::adapter::{Bytes, Dst, Gen, Label, Op, Src, memarg};
use kiln_environ::Trap;
use kiln_environ::component::{MAX_STRING_BYTE_LENGTH, REALLOC_MAX, StringEncoding, UTF16_TAG};
use wasm_encoder::{Instruction as I, ValType};

/// A source's simple encoding (a `latin1+utf16` string is one of the last two at run time).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Enc {
    Utf8,
    Utf16,
    Latin1,
}

/// The source text still to transcode: `enc`-encoded code units from local `s` (advanced as code
/// points are decoded) to local `end`.
#[derive(Clone, Copy)]
struct Cursor {
    enc: Enc,
    s: u32,
    end: u32,
}

impl Gen {
    fn src_mem(&self) -> u32 {
        self.src.memory.expect("memory presence checked")
    }

    fn dst_mem(&self) -> u32 {
        self.dst.memory.expect("memory presence checked")
    }

    /// `a >= b` (locals of one type) exits to `exit`.
    fn exit_if_ge(&mut self, a: u32, b: u32, exit: Label) {
        self.push_ge(a, b);
        self.br_if(exit);
    }

    /// A new `i32` local set to zero.
    fn zero_local(&mut self) -> u32 {
        let l = self.local(ValType::I32);
        self.i32(0);
        self.set(l);
        l
    }

    /// A new local holding a copy of local `from` (of its type).
    fn copy_local(&mut self, from: u32) -> u32 {
        let l = self.local_like(from);
        self.get(from);
        self.set(l);
        l
    }

    /// A new pointer local holding `base + offset` for a pointer local `base` and an `i32`
    /// local `offset`.
    fn ptr_plus(&mut self, base: u32, offset: u32) -> u32 {
        let l = self.local_like(base);
        self.get(base);
        self.get_as(offset, base);
        self.ins(if self.is64(base) { I::I64Add } else { I::I32Add });
        self.set(l);
        l
    }

    /// A new `i32` local holding `a - b` for pointer locals `a` and `b` (`a >= b`, less than
    /// 2^32 apart).
    fn diff_local(&mut self, a: u32, b: u32) -> u32 {
        let l = self.local(ValType::I32);
        self.push_diff(a, b);
        self.set(l);
        l
    }

    /// A new `i32` local holding the `i64` local `l64` wrapped (callers have bounded it first).
    fn wrap_local(&mut self, l64: u32) -> u32 {
        let l = self.local(ValType::I32);
        self.get(l64);
        self.ins(I::I32WrapI64);
        self.set(l);
        l
    }

    /// A new `i32` local holding `n * unit` bytes, the size of a destination allocation: below
    /// `REALLOC_MAX` for any source within the string limit (checked all the same).
    fn checked_byte_size(&mut self, n: u32, unit: u32) -> u32 {
        let bytes64 = self.mul64(n, unit);
        self.check_length(bytes64, REALLOC_MAX, Trap::StringOutOfBounds);
        self.wrap_local(bytes64)
    }

    /// (Re)allocates the destination string at `dp` (from `old_ptr` / `old_size`) to `new_size`
    /// bytes, then checks the result's alignment and bounds.
    fn realloc_dst(&mut self, old_ptr: Op, old_size: Op, align: u32, new_size: u32, dp: u32) {
        let dst_mem = self.dst_mem();
        self.realloc(self.dst, old_ptr, old_size, align, Op::L(new_size), dp);
        self.check_align(dp, align);
        self.check_bounds(dst_mem, dp, Bytes::L32(new_size), Trap::StringOutOfBounds);
    }

    /// Shrinks the destination allocation at `dp` from `allocated` to `used` bytes if `used` is
    /// smaller: the spec's final `realloc` after a worst-case estimate.
    fn shrink_dst(&mut self, allocated: u32, used: u32, align: u32, dp: u32) {
        self.get(allocated);
        self.get(used);
        self.ins(I::I32GtU);
        self.if_();
        self.realloc_dst(Op::P(dp), Op::L(allocated), align, used, dp);
        self.end();
    }

    /// `memory.copy` of `bytes` bytes from `sp` in the source memory to `dp` in the destination.
    fn copy_bytes(&mut self, dp: u32, sp: u32, bytes: u32) {
        let (src_mem, dst_mem) = (self.src_mem(), self.dst_mem());
        self.get(dp);
        self.get(sp);
        self.push_copy_length(bytes, sp, dp);
        self.ins(I::MemoryCopy { src_mem, dst_mem });
    }

    /// Pushes the address of element `index` (an `i32` local) of `2^unit_log2`-byte units at
    /// pointer local `base`.
    fn push_element_addr(&mut self, base: u32, index: u32, unit_log2: i32) {
        let wide = self.is64(base);
        self.get(base);
        self.get_as(index, base);
        if unit_log2 > 0 {
            if wide {
                self.ins(I::I64Const(i64::from(unit_log2)));
                self.ins(I::I64Shl);
            } else {
                self.i32(unit_log2);
                self.ins(I::I32Shl);
            }
        }
        self.ins(if wide { I::I64Add } else { I::I32Add });
    }

    /// Pushes `end - s` as an `i32`: how many source bytes are left.
    fn push_remaining(&mut self, s: u32, end: u32) {
        self.push_diff(end, s);
    }

    /// `while a < b { body }` over locals of one type (unsigned); `body` advances them.
    fn loop_while_below(&mut self, a: u32, b: u32, body: impl FnOnce(&mut Gen)) {
        let exit = self.block();
        let top = self.loop_();
        self.exit_if_ge(a, b, exit);
        body(self);
        self.br(top);
        self.end();
        self.end();
    }

    /// Translates a string from `src` to `dst`.
    pub(crate) fn translate_string(&mut self, src: Src<'_>, dst: Dst<'_>) {
        let (sp, sl) =
            self.read_ptr_len(src, Trap::StringOutOfBounds, self.src.encoding == StringEncoding::CompactUtf16);
        let (dp, dl) = (self.ptr_local(self.dst), self.local(ValType::I32));
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
        self.write_pair(dst, dp, dl, self.dst.encoding == StringEncoding::CompactUtf16);
    }

    /// Checks and validates the source string (`n` code units at `sp` in `enc`), then stores it on
    /// the destination side, setting `dp` / `dl` to the destination pointer and tagged length.
    fn string_from(&mut self, enc: Enc, compact: bool, sp: u32, n: u32, dp: u32, dl: u32) {
        let src_mem = self.src_mem();
        let unit = if enc == Enc::Utf16 { 2 } else { 1 };
        let bytes64 = self.mul64(n, unit);
        // A string longer than the Canonical ABI allows is out of bounds (the reference
        // runtime reports it as such).
        self.check_length(bytes64, MAX_STRING_BYTE_LENGTH, Trap::StringOutOfBounds);
        let align = if self.src.encoding == StringEncoding::Utf8 { 1 } else { 2 };
        self.check_align(sp, align);
        self.check_bounds(src_mem, sp, Bytes::L64(bytes64), Trap::StringOutOfBounds);
        let bytes = self.wrap_local(bytes64);
        let end = self.ptr_plus(sp, bytes);

        let dst_encoding = self.dst.encoding;
        let probably_utf16 = compact && enc == Enc::Utf16 && dst_encoding == StringEncoding::CompactUtf16;
        let mut wide = None;
        match enc {
            Enc::Utf8 => self.validate_utf8(sp, end),
            Enc::Utf16 => {
                let acc = probably_utf16.then(|| self.zero_local());
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
        let dst_bytes = self.checked_byte_size(n, dst_unit);
        self.realloc_dst(Op::C(0), Op::C(0), dst_align, dst_bytes, dp);
        let src_unit = if enc == Enc::Utf16 { 2 } else { 1 };
        if src_unit == dst_unit {
            self.copy_bytes(dp, sp, dst_bytes);
        } else {
            // Latin-1 to UTF-16: one zero-extended unit per byte.
            let i = self.zero_local();
            let s = self.copy_local(sp);
            let d = self.copy_local(dp);
            self.loop_while_below(i, n, |g| {
                g.get(d);
                g.get(s);
                g.ins(I::I32Load8U(memarg(src_mem, 0, 0)));
                g.ins(I::I32Store16(memarg(dst_mem, 0, 0)));
                g.add_to(i, 1);
                g.add_to(s, 1);
                g.add_to(d, 2);
            });
        }
        self.get(n);
        self.set(dl);
    }

    /// The optimistic part of a transcoding store: copies each code point below `limit` as one
    /// byte to `dp + k`, running `at_end(exit)` first on every iteration (it branches to `exit`
    /// when the source is done). At the first code point at or above `limit` (left in `cp`),
    /// `wide` runs; both leave at the end of the outer block.
    #[allow(clippy::too_many_arguments)]
    fn store_narrow_prefix(
        &mut self,
        src: Cursor,
        cp: u32,
        dp: u32,
        k: u32,
        limit: i32,
        at_end: impl FnOnce(&mut Gen, Label),
        wide: impl FnOnce(&mut Gen),
    ) {
        let dst_mem = self.dst_mem();
        let exit = self.block();
        let top = self.loop_();
        at_end(self, exit);
        self.decode(src.enc, src.s, cp);
        self.get(cp);
        self.i32(limit);
        self.ins(I::I32LtU);
        self.if_();
        self.push_element_addr(dp, k, 0);
        self.get(cp);
        self.ins(I::I32Store8(memarg(dst_mem, 0, 0)));
        self.add_to(k, 1);
        self.br(top);
        self.end();
        self.end();
        wide(self);
        self.end();
    }

    /// Transcodes the rest of `src` to `d` (UTF-16 if `utf16`, else UTF-8), then shrinks the
    /// `allocated`-byte destination at `dp` to what was written. Returns the local holding the
    /// number of bytes written.
    fn transcode_and_shrink(&mut self, src: Cursor, cp: u32, d: u32, dp: u32, allocated: u32, utf16: bool) -> u32 {
        self.loop_while_below(src.s, src.end, |g| {
            g.decode(src.enc, src.s, cp);
            g.encode(cp, d, utf16);
        });
        let written = self.diff_local(d, dp);
        self.shrink_dst(allocated, written, if utf16 { 2 } else { 1 }, dp);
        written
    }

    /// Sets `dl` to the `latin1+utf16` length of `bytes` bytes of UTF-16: code units, tagged.
    fn set_tagged_utf16_length(&mut self, bytes: u32, dl: u32) {
        self.get(bytes);
        self.i32(1);
        self.ins(I::I32ShrU);
        self.i32(UTF16_TAG as i32);
        self.ins(I::I32Or);
        self.set(dl);
    }

    /// UTF-16 or Latin-1 to UTF-8: optimistic one byte per code unit, then a worst-case
    /// reallocation at the first non-ASCII code point and a shrinking one at the end.
    #[allow(clippy::too_many_arguments)]
    fn store_utf8(&mut self, enc: Enc, factor: u32, sp: u32, end: u32, n: u32, dp: u32, dl: u32) {
        self.realloc_dst(Op::C(0), Op::C(0), 1, n, dp);
        let src = Cursor { enc, s: self.copy_local(sp), end };
        let i = self.zero_local();
        let cp = self.local(ValType::I32);
        self.get(n);
        self.set(dl);
        let at_end = |g: &mut Gen, exit| g.exit_if_ge(src.s, end, exit);
        self.store_narrow_prefix(src, cp, dp, i, 0x80, at_end, |g| {
            // A non-ASCII code point: grow to the worst case and finish the copy.
            let worst = g.checked_byte_size(n, factor);
            g.realloc_dst(Op::P(dp), Op::L(n), 1, worst, dp);
            let d = g.ptr_plus(dp, i);
            g.encode(cp, d, false);
            let written = g.transcode_and_shrink(src, cp, d, dp, worst, false);
            g.get(written);
            g.set(dl);
        });
    }

    /// UTF-8 to UTF-16: worst case two bytes per source byte, shrunk at the end.
    fn utf8_to_utf16(&mut self, sp: u32, end: u32, n: u32, dp: u32, dl: u32) {
        let worst = self.checked_byte_size(n, 2);
        self.realloc_dst(Op::C(0), Op::C(0), 2, worst, dp);
        let src = Cursor { enc: Enc::Utf8, s: self.copy_local(sp), end };
        let d = self.copy_local(dp);
        let cp = self.local(ValType::I32);
        let written = self.transcode_and_shrink(src, cp, d, dp, worst, true);
        self.get(written);
        self.i32(1);
        self.ins(I::I32ShrU);
        self.set(dl);
    }

    /// UTF-8 or UTF-16 to `latin1+utf16`: optimistic Latin-1, inflated in place to UTF-16 at the
    /// first code point above U+00FF.
    fn store_latin1_or_utf16(&mut self, enc: Enc, sp: u32, end: u32, n: u32, dp: u32, dl: u32) {
        self.realloc_dst(Op::C(0), Op::C(0), 2, n, dp);
        let src = Cursor { enc, s: self.copy_local(sp), end };
        let k = self.zero_local();
        let cp = self.local(ValType::I32);
        let at_end = |g: &mut Gen, exit| {
            // End of the source: all of it fit in Latin-1.
            g.push_ge(src.s, end);
            g.if_();
            g.shrink_dst(n, k, 2, dp);
            g.get(k);
            g.set(dl);
            g.br(exit);
            g.end();
        };
        self.store_narrow_prefix(src, cp, dp, k, 0x100, at_end, |g| {
            // Outside Latin-1: grow, inflate what was copied, finish in UTF-16.
            let worst = g.checked_byte_size(n, 2);
            g.realloc_dst(Op::P(dp), Op::L(n), 2, worst, dp);
            g.inflate_latin1_in_place(dp, k);
            let d = g.local_like(dp);
            g.push_element_addr(dp, k, 1);
            g.set(d);
            g.encode(cp, d, true);
            let written = g.transcode_and_shrink(src, cp, d, dp, worst, true);
            g.set_tagged_utf16_length(written, dl);
        });
    }

    /// Widens the `k` Latin-1 bytes at `dp` in the destination memory to UTF-16 code units in
    /// place, last first so no byte is overwritten before it is read.
    fn inflate_latin1_in_place(&mut self, dp: u32, k: u32) {
        let dst_mem = self.dst_mem();
        let j = self.copy_local(k);
        let inflated = self.block();
        let back = self.loop_();
        self.get(j);
        self.ins(I::I32Eqz);
        self.br_if(inflated);
        self.add_to(j, -1);
        self.push_element_addr(dp, j, 1);
        self.push_element_addr(dp, j, 0);
        self.ins(I::I32Load8U(memarg(dst_mem, 0, 0)));
        self.ins(I::I32Store16(memarg(dst_mem, 0, 1)));
        self.br(back);
        self.end();
        self.end();
    }

    /// `latin1+utf16` (UTF-16 form) to `latin1+utf16`: copy as UTF-16, deflate to Latin-1 if no code
    /// unit needed more than a byte (`wide` holds the OR of all units).
    fn probably_utf16(&mut self, sp: u32, n: u32, bytes: u32, wide: u32, dp: u32, dl: u32) {
        let dst_mem = self.dst_mem();
        self.realloc_dst(Op::C(0), Op::C(0), 2, bytes, dp);
        self.copy_bytes(dp, sp, bytes);
        self.get(wide);
        self.i32(0xFF00);
        self.ins(I::I32And);
        self.if_();
        self.get(n);
        self.i32(UTF16_TAG as i32);
        self.ins(I::I32Or);
        self.set(dl);
        self.else_();
        let i = self.zero_local();
        self.loop_while_below(i, n, |g| {
            g.push_element_addr(dp, i, 0);
            g.push_element_addr(dp, i, 1);
            g.ins(I::I32Load8U(memarg(dst_mem, 0, 0)));
            g.ins(I::I32Store8(memarg(dst_mem, 0, 0)));
            g.add_to(i, 1);
        });
        self.realloc_dst(Op::P(dp), Op::L(bytes), 1, n, dp);
        self.get(n);
        self.set(dl);
        self.end();
    }

    /// Encodes `cp` at `d` in the destination memory as UTF-16 if `utf16`, else as UTF-8,
    /// advancing `d`.
    fn encode(&mut self, cp: u32, d: u32, utf16: bool) {
        if utf16 {
            self.encode_utf16(cp, d);
        } else {
            self.encode_utf8(cp, d);
        }
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
                self.push_masked_eq(cp, 0xFC00, 0xD800);
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
                // Lead bytes below 0x80, 0xE0, 0xF0 and above start sequences of 1, 2, 3, 4 bytes.
                self.if_below_chain(cp, &[0x80, 0xE0, 0xF0], |g, arm| {
                    let len = arm as u32 + 1;
                    if len > 1 {
                        let lead_mask = [0x1F, 0x0F, 0x07][arm - 1];
                        g.get(cp);
                        g.i32(lead_mask);
                        g.ins(I::I32And);
                        g.i32(6 * (len as i32 - 1));
                        g.ins(I::I32Shl);
                        for k in 1..len {
                            g.continuation(s, k, 6 * (len - 1 - k) as i32);
                            g.ins(I::I32Or);
                        }
                        g.set(cp);
                    }
                    g.add_to(s, len as i32);
                });
            }
        }
    }

    /// Emits `if value < bounds[0] { arm(0) } else if value < bounds[1] { arm(1) } ... else
    /// { arm(bounds.len()) }` (unsigned comparisons of the `i32` local `value`).
    fn if_below_chain(&mut self, value: u32, bounds: &[i32], mut arm: impl FnMut(&mut Gen, usize)) {
        for (i, &bound) in bounds.iter().enumerate() {
            self.get(value);
            self.i32(bound);
            self.ins(I::I32LtU);
            self.if_();
            arm(self, i);
            self.else_();
        }
        arm(self, bounds.len());
        for _ in bounds {
            self.end();
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
        // Code points below 0x80, 0x800, 0x10000 and above take 1, 2, 3, 4 bytes.
        self.if_below_chain(cp, &[0x80, 0x800, 0x10000], |g, arm| {
            let len = arm as u32 + 1;
            if len == 1 {
                g.utf8_byte(cp, d, 0, 0, 0, 0);
            } else {
                let lead_prefix = [0xC0, 0xE0, 0xF0][arm - 1];
                g.utf8_byte(cp, d, 0, lead_prefix, 6 * (len as i32 - 1), 0);
                for k in 1..len {
                    g.utf8_byte(cp, d, k, 0x80, 6 * (len - 1 - k) as i32, 0x3F);
                }
            }
            g.add_to(d, len as i32);
        });
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

    /// Traps unless `[s, end)` of the source memory is well-formed UTF-8: `IncompleteUtf8` if it
    /// ends inside a sequence whose bytes so far are valid, else `InvalidUtf8` at the first
    /// ill-formed sequence (bad lead or continuation byte, overlong form, surrogate, code point
    /// above U+10FFFF); the same classification as Rust's `str::from_utf8`. Eight ASCII bytes at
    /// a time where possible.
    fn validate_utf8(&mut self, sp: u32, end: u32) {
        let mem = self.src_mem();
        let (s, b, n, cp, min, avail) = (
            self.local_like(sp),
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
        self.push_remaining(s, end);
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
        self.if_below_chain(b, &[0xE0, 0xF0, 0xF5], |g, arm| match arm {
            0 => lead(g, 2, 0x1F, 0x80),
            1 => lead(g, 3, 0x0F, 0x800),
            2 => lead(g, 4, 0x07, 0x10000),
            _ => g.trap(Trap::InvalidUtf8),
        });
        // The bytes of the sequence that are there: all of them, or what is left before the end.
        self.push_remaining(s, end);
        self.get(n);
        self.push_remaining(s, end);
        self.get(n);
        self.ins(I::I32LtU);
        self.ins(I::Select);
        self.set(avail);
        // Continuation bytes: each present one must be `10xxxxxx`; absent ones count as zero bits
        // (so the range checks below see the smallest code point the prefix could start).
        let cont = |g: &mut Gen, k: u32| {
            g.get(cp);
            g.i32(6);
            g.ins(I::I32Shl);
            g.set(cp);
            g.i32(k as i32);
            g.get(avail);
            g.ins(I::I32LtU);
            g.if_();
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
            g.get(b);
            g.i32(0x3F);
            g.ins(I::I32And);
            g.ins(I::I32Or);
            g.set(cp);
            g.end();
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
        // Overlong forms, surrogates and code points above U+10FFFF show in the lead byte and the
        // second byte, so they are checked once the second byte is there (as Rust's `from_utf8`
        // does: a prefix that cannot start a valid sequence is invalid, not incomplete).
        self.get(avail);
        self.i32(2);
        self.ins(I::I32GeU);
        self.if_();
        self.get(cp);
        self.get(min);
        self.ins(I::I32LtU);
        self.trap_if(Trap::InvalidUtf8);
        self.get(cp);
        self.i32(0x10FFFF);
        self.ins(I::I32GtU);
        self.trap_if(Trap::InvalidUtf8);
        self.push_masked_eq(cp, 0xFFFF_F800_u32 as i32, 0xD800);
        self.trap_if(Trap::InvalidUtf8);
        self.end();
        // A valid prefix cut off by the end of the string.
        self.get(avail);
        self.get(n);
        self.ins(I::I32LtU);
        self.trap_if(Trap::IncompleteUtf8);
        self.get(s);
        self.get_as(n, s);
        self.ins(if self.is64(s) { I::I64Add } else { I::I32Add });
        self.set(s);
        self.br(top);
        self.end();
        self.end();
    }

    /// Traps `InvalidUtf16` on an unpaired surrogate in `[sp, end)` of the source memory; ORs every
    /// code unit into `acc` if given.
    fn validate_utf16(&mut self, sp: u32, end: u32, acc: Option<u32>) {
        let mem = self.src_mem();
        let s = self.copy_local(sp);
        let u = self.local(ValType::I32);
        self.loop_while_below(s, end, |g| {
            g.get(s);
            g.ins(I::I32Load16U(memarg(mem, 0, 1)));
            g.set(u);
            if let Some(acc) = acc {
                g.get(acc);
                g.get(u);
                g.ins(I::I32Or);
                g.set(acc);
            }
            g.push_masked_eq(u, 0xF800, 0xD800);
            g.if_();
            g.get(u);
            g.i32(0xDC00);
            g.ins(I::I32GeU);
            g.trap_if(Trap::InvalidUtf16);
            g.push_remaining(s, end);
            g.i32(4);
            g.ins(I::I32LtU);
            g.trap_if(Trap::InvalidUtf16);
            g.get(s);
            g.ins(I::I32Load16U(memarg(mem, 2, 1)));
            g.i32(0xFC00);
            g.ins(I::I32And);
            g.i32(0xDC00);
            g.ins(I::I32Ne);
            g.trap_if(Trap::InvalidUtf16);
            g.add_to(s, 4);
            g.else_();
            g.add_to(s, 2);
            g.end();
        });
    }
}

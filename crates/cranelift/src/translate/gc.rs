//! GC instructions: struct and array allocation and access, and casts to every heap type.
//!
//! Objects are laid out as `kiln_environ::vmgc` describes; a reference is the object's address.
//! Allocation calls the `GcAlloc` family of builtins (which may collect: the values live across
//! the call are in stack maps); field access is a null check and a load or store at a constant
//! offset; array access adds a bounds check against the length in the header. A cast to a
//! concrete type compares one entry of the object's type display (constant time).

use super::{FuncTranslator, trusted, trusted_readonly};
use crate::{trap_code, value_type};
use anyhow::Result;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{BlockArg, InstBuilder, Value};
use kiln_environ::{
    Builtin, Trap, TypeIndex, TypeKind, VMOffsets, WasmCompositeType, WasmFieldType, WasmHeapType, WasmRefType,
    WasmStorageType, WasmValType, struct_field_offsets, vmfuncref, vmgc, vmstore_context,
};
use wasmparser::Operator;

impl FuncTranslator<'_, '_> {
    /// Translates a GC operator; false if `op` is not one.
    pub(super) fn translate_gc(&mut self, op: &Operator<'_>) -> Result<bool> {
        match *op {
            Operator::StructNew { struct_type_index: ty } => self.new_struct(ty, true, false),
            Operator::StructNewDefault { struct_type_index: ty } => self.new_struct(ty, false, false),
            Operator::StructNewDesc { struct_type_index: ty } => self.new_struct(ty, true, true),
            Operator::StructNewDefaultDesc { struct_type_index: ty } => self.new_struct(ty, false, true),
            Operator::RefGetDesc { type_index: ty } => {
                let object = self.pop();
                self.b.ins().trapz(object, trap_code(Trap::NullReference));
                let descriptor = self.b.ins().load(I64, trusted(), object, vmgc::DESCRIPTOR as i32);
                let desc_ty =
                    self.env.info.types[ty as usize].descriptor.expect("validated: the type has a descriptor");
                self.push_ref(descriptor, desc_ty);
            }
            Operator::RefCastDescEqNonNull { hty } | Operator::RefCastDescEqNullable { hty } => {
                let nullable = matches!(op, Operator::RefCastDescEqNullable { .. });
                let heap = self.env.info.convert_heap_type(hty)?;
                let descriptor = self.pop();
                let r = *self.stack.last().expect("operand stack underflow");
                let ok = self.descriptor_test(r, descriptor, nullable, heap);
                self.b.ins().trapz(ok, trap_code(Trap::DescriptorCastFailure));
            }
            Operator::BrOnCastDescEq { relative_depth, to_ref_type, .. }
            | Operator::BrOnCastDescEqFail { relative_depth, to_ref_type, .. } => {
                let on_fail = matches!(op, Operator::BrOnCastDescEqFail { .. });
                let heap = self.env.info.convert_heap_type(to_ref_type.heap_type())?;
                let descriptor = self.pop();
                let r = *self.stack.last().expect("operand stack underflow");
                let ok = self.descriptor_test(r, descriptor, to_ref_type.is_nullable(), heap);
                self.br_on_test(relative_depth, ok, on_fail);
            }
            Operator::StructGet { struct_type_index: ty, field_index }
            | Operator::StructGetS { struct_type_index: ty, field_index }
            | Operator::StructGetU { struct_type_index: ty, field_index } => {
                let signed = matches!(op, Operator::StructGetS { .. });
                let fields = self.struct_fields(ty);
                let (offsets, _) = self.struct_offsets(ty);
                let object = self.pop();
                self.b.ins().trapz(object, trap_code(Trap::NullStructReference));
                let field = fields[field_index as usize];
                let v = self.load_storage(field.storage, signed, object, offsets[field_index as usize]);
                self.note_gc_ref(v, field.storage.unpacked());
                self.push(v);
            }
            Operator::StructSet { struct_type_index: ty, field_index } => {
                let fields = self.struct_fields(ty);
                let (offsets, _) = self.struct_offsets(ty);
                let (object, v) = self.pop2();
                self.b.ins().trapz(object, trap_code(Trap::NullStructReference));
                self.store_storage(fields[field_index as usize].storage, v, object, offsets[field_index as usize]);
            }
            Operator::ArrayNew { array_type_index: ty } => {
                let (init, len) = self.pop2();
                let object = self.alloc(ty, Some(len));
                let zero = self.b.ins().iconst(I32, 0);
                self.fill(ty, object, zero, init, len);
                self.push_ref(object, ty);
            }
            Operator::ArrayNewDefault { array_type_index: ty } => {
                let len = self.pop();
                let object = self.alloc(ty, Some(len));
                self.push_ref(object, ty);
            }
            Operator::ArrayNewFixed { array_type_index: ty, array_size } => {
                let values = self.popn(array_size as usize);
                let elem = self.array_elem(ty);
                let size = u64::from(vmgc::ARRAY_HEADER_SIZE) + u64::from(array_size) * u64::from(elem.storage.size());
                let object = self.alloc_fast_or_slow(ty, size, array_size);
                for (i, v) in values.into_iter().enumerate() {
                    let offset = vmgc::ARRAY_HEADER_SIZE + i as u32 * elem.storage.size();
                    self.store_storage(elem.storage, v, object, offset);
                }
                self.push_ref(object, ty);
            }
            Operator::ArrayNewData { array_type_index: ty, array_data_index: data } => {
                let (offset, len) = self.pop2();
                let args = [self.i32(ty), self.i32(data), offset, len];
                let object = self.alloc_with(Builtin::ArrayNewData, &args);
                self.push_ref(object, ty);
            }
            Operator::ArrayNewElem { array_type_index: ty, array_elem_index: elem } => {
                let (offset, len) = self.pop2();
                let args = [self.i32(ty), self.i32(elem), offset, len];
                let object = self.alloc_with(Builtin::ArrayNewElem, &args);
                self.push_ref(object, ty);
            }
            Operator::ArrayGet { array_type_index: ty }
            | Operator::ArrayGetS { array_type_index: ty }
            | Operator::ArrayGetU { array_type_index: ty } => {
                let signed = matches!(op, Operator::ArrayGetS { .. });
                let (object, index) = self.pop2();
                let elem = self.array_elem(ty);
                let addr = self.elem_addr(object, index, elem.storage.size());
                let v = self.load_storage(elem.storage, signed, addr, 0);
                self.note_gc_ref(v, elem.storage.unpacked());
                self.push(v);
            }
            Operator::ArraySet { array_type_index: ty } => {
                let (object, index, v) = self.pop3();
                let elem = self.array_elem(ty);
                let addr = self.elem_addr(object, index, elem.storage.size());
                self.store_storage(elem.storage, v, addr, 0);
            }
            Operator::ArrayLen => {
                let object = self.pop();
                self.b.ins().trapz(object, trap_code(Trap::NullArrayReference));
                let len = self.b.ins().load(I32, trusted(), object, vmgc::LENGTH as i32);
                self.push(len);
            }
            Operator::ArrayFill { array_type_index: ty } => {
                let (object, start, v, len) = {
                    let len = self.pop();
                    let (object, start, v) = self.pop3();
                    (object, start, v, len)
                };
                self.b.ins().trapz(object, trap_code(Trap::NullArrayReference));
                self.check_range(object, start, len);
                self.fill(ty, object, start, v, len);
            }
            Operator::ArrayCopy { .. } => {
                let len = self.pop();
                let (dst, dst_index, src, src_index) = {
                    let (src, src_index) = self.pop2();
                    let (dst, dst_index) = self.pop2();
                    (dst, dst_index, src, src_index)
                };
                self.b.ins().trapz(dst, trap_code(Trap::NullArrayReference));
                self.b.ins().trapz(src, trap_code(Trap::NullArrayReference));
                self.call_checked_builtin(Builtin::ArrayCopy, &[dst, dst_index, src, src_index, len]);
            }
            Operator::ArrayInitData { array_data_index: data, .. }
            | Operator::ArrayInitElem { array_elem_index: data, .. } => {
                let builtin = if matches!(op, Operator::ArrayInitData { .. }) {
                    Builtin::ArrayInitData
                } else {
                    Builtin::ArrayInitElem
                };
                let len = self.pop();
                let (object, dst, src) = self.pop3();
                self.b.ins().trapz(object, trap_code(Trap::NullArrayReference));
                let segment = self.i32(data);
                self.call_checked_builtin(builtin, &[object, dst, segment, src, len]);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn i32(&mut self, v: u32) -> Value {
        self.b.ins().iconst(I32, i64::from(v))
    }

    /// `struct.new[_default][_desc] $ty`: pops the descriptor (custom descriptors; null traps),
    /// then the field values, and pushes the new struct, its descriptor in its hidden first word.
    fn new_struct(&mut self, ty: TypeIndex, with_fields: bool, with_descriptor: bool) {
        let descriptor = with_descriptor.then(|| self.pop());
        if let Some(d) = descriptor {
            self.b.ins().trapz(d, trap_code(Trap::NullDescriptorReference));
        }
        let fields = self.struct_fields(ty);
        let values = if with_fields { self.popn(fields.len()) } else { Vec::new() };
        let object = self.alloc_struct(ty);
        let (offsets, _) = self.struct_offsets(ty);
        for ((f, offset), v) in fields.iter().zip(offsets).zip(values) {
            self.store_storage(f.storage, v, object, offset);
        }
        if let Some(d) = descriptor {
            self.b.ins().store(trusted(), d, object, vmgc::DESCRIPTOR as i32);
        }
        self.push_ref(object, ty);
    }

    /// The field offsets and size of struct type `ty` (after its descriptor, if it has one).
    fn struct_offsets(&self, ty: TypeIndex) -> (Vec<u32>, u32) {
        let has_descriptor = self.env.info.types[ty as usize].descriptor.is_some();
        struct_field_offsets(&self.struct_fields(ty), has_descriptor)
    }

    /// 1 if `r` belongs to `(ref null? heap)` and, when not null, its descriptor is `descriptor`
    /// (`ref.cast_desc_eq`, `br_on_cast_desc_eq`); a null `descriptor` traps first.
    fn descriptor_test(&mut self, r: Value, descriptor: Value, nullable: bool, heap: WasmHeapType) -> Value {
        self.b.ins().trapz(descriptor, trap_code(Trap::NullDescriptorReference));
        let done = self.b.create_block();
        let result = self.b.append_block_param(done, I32);
        let non_null = self.b.create_block();
        let typed = self.b.create_block();
        let null_value = self.b.ins().iconst(I32, i64::from(nullable));
        self.b.ins().brif(r, non_null, &[], done, &[BlockArg::Value(null_value)]);
        self.b.switch_to_block(non_null);
        self.b.seal_block(non_null);
        // Only an object of (a subtype of) the descriptor's type has the hidden word to read.
        let of_type = self.ref_test_heap(r, false, heap, false);
        let zero = self.b.ins().iconst(I32, 0);
        self.b.ins().brif(of_type, typed, &[], done, &[BlockArg::Value(zero)]);
        self.b.switch_to_block(typed);
        self.b.seal_block(typed);
        let actual = self.b.ins().load(I64, trusted(), r, vmgc::DESCRIPTOR as i32);
        let same = self.b.ins().icmp(IntCC::Equal, actual, descriptor);
        let same = self.b.ins().uextend(I32, same);
        self.b.ins().jump(done, &[BlockArg::Value(same)]);
        self.b.switch_to_block(done);
        self.b.seal_block(done);
        result
    }

    fn struct_fields(&self, ty: TypeIndex) -> Box<[WasmFieldType]> {
        match &self.env.info.types[ty as usize].composite {
            WasmCompositeType::Struct(fields) => fields.clone(),
            _ => unreachable!("validated struct instructions name struct types"),
        }
    }

    fn array_elem(&self, ty: TypeIndex) -> WasmFieldType {
        match &self.env.info.types[ty as usize].composite {
            WasmCompositeType::Array(elem) => *elem,
            _ => unreachable!("validated array instructions name array types"),
        }
    }

    /// Pushes a new object of type `ty`, recorded for stack maps.
    fn push_ref(&mut self, object: Value, ty: TypeIndex) {
        let kind = self.env.info.kind_of(ty);
        self.note_gc_ref(object, WasmValType::Ref(WasmRefType::new(false, WasmHeapType::Concrete(kind, ty))));
        self.push(object);
    }

    /// Allocates a zeroed struct of type `ty`.
    fn alloc_struct(&mut self, ty: TypeIndex) -> Value {
        let (_, size) = self.struct_offsets(ty);
        self.alloc_fast_or_slow(ty, u64::from(size), 0)
    }

    /// Allocates a zeroed object of type `ty` and `size` bytes (an array of `len` elements): a
    /// small one pops a cell of its size class's free list inline (free cells are zero but for
    /// the link in their first word); an empty list, or a large object, calls the builtin.
    fn alloc_fast_or_slow(&mut self, ty: TypeIndex, size: u64, len: u32) -> Value {
        let class = u32::try_from(size).ok().and_then(vmgc::size_class);
        let Some(class) = class else {
            let len = self.b.ins().iconst(I32, i64::from(len));
            return self.alloc(ty, Some(len));
        };
        let store_ctx = self.store_context();
        let slot = (vmstore_context::GC_FREE_LISTS + class * 8) as i32;
        let head = self.b.ins().load(I64, trusted(), store_ctx, slot);
        let fast = self.b.create_block();
        let slow = self.b.create_block();
        let done = self.b.create_block();
        let object = self.b.append_block_param(done, I64);
        self.b.set_cold_block(slow);
        self.b.ins().brif(head, fast, &[], slow, &[]);

        self.b.switch_to_block(fast);
        self.b.seal_block(fast);
        let next = self.b.ins().load(I64, trusted(), head, vmgc::FREE_LINK as i32);
        self.b.ins().store(trusted(), next, store_ctx, slot);
        // The header: the type id, and gc bits of 0 (clearing the free bit).
        let id = self.engine_type_id(ty);
        let header = self.b.ins().uextend(I64, id);
        self.b.ins().store(trusted(), header, head, vmgc::TYPE_ID as i32);
        // The length (arrays) or 0 (a struct's first bytes): clears the free link either way.
        let len_word = self.b.ins().iconst(I64, i64::from(len));
        self.b.ins().store(trusted(), len_word, head, vmgc::LENGTH as i32);
        self.b.ins().jump(done, &[BlockArg::Value(head)]);

        self.b.switch_to_block(slow);
        self.b.seal_block(slow);
        let len = self.b.ins().iconst(I32, i64::from(len));
        let allocated = self.alloc(ty, Some(len));
        self.b.ins().jump(done, &[BlockArg::Value(allocated)]);

        self.b.switch_to_block(done);
        self.b.seal_block(done);
        object
    }

    /// Allocates a zeroed object of type `ty` (`len` elements for an array) through the builtin.
    fn alloc(&mut self, ty: TypeIndex, len: Option<Value>) -> Value {
        let len = len.unwrap_or_else(|| self.b.ins().iconst(I32, 0));
        let args = [self.i32(ty), len];
        self.alloc_with(Builtin::GcAlloc, &args)
    }

    /// Calls an allocating builtin, which returns the object or `trap code + 1`, and raises the
    /// trap from here.
    fn alloc_with(&mut self, builtin: Builtin, args: &[Value]) -> Value {
        let result = self.call_builtin(builtin, args).expect("allocating builtins return a value");
        let failed = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, result, 256);
        let trap_block = self.b.create_block();
        let ok_block = self.b.create_block();
        self.b.set_cold_block(trap_block);
        self.b.ins().brif(failed, trap_block, &[], ok_block, &[]);
        self.b.seal_block(trap_block);
        self.b.switch_to_block(trap_block);
        let code = self.b.ins().ireduce(I32, result);
        let code = self.b.ins().iadd_imm_s(code, -1);
        self.raise_trap_code(code);
        self.b.seal_block(ok_block);
        self.b.switch_to_block(ok_block);
        result
    }

    /// The address of element `index` of array `object` (trapping on null and out of bounds).
    fn elem_addr(&mut self, object: Value, index: Value, elem_size: u32) -> Value {
        self.b.ins().trapz(object, trap_code(Trap::NullArrayReference));
        let len = self.b.ins().load(I32, trusted(), object, vmgc::LENGTH as i32);
        let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
        self.b.ins().trapnz(oob, trap_code(Trap::ArrayOutOfBounds));
        let index = self.b.ins().uextend(I64, index);
        let scaled = self.b.ins().imul_imm_s(index, i64::from(elem_size));
        let base = self.b.ins().iadd(object, scaled);
        self.b.ins().iadd_imm_s(base, i64::from(vmgc::ARRAY_HEADER_SIZE))
    }

    /// Traps unless `start + len` is within the length of non-null array `object`.
    fn check_range(&mut self, object: Value, start: Value, len: Value) {
        let array_len = self.b.ins().load(I32, trusted(), object, vmgc::LENGTH as i32);
        let array_len = self.b.ins().uextend(I64, array_len);
        let start = self.b.ins().uextend(I64, start);
        let len = self.b.ins().uextend(I64, len);
        let end = self.b.ins().iadd(start, len);
        let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, array_len);
        self.b.ins().trapnz(oob, trap_code(Trap::ArrayOutOfBounds));
    }

    /// Writes `value` to elements `start..start + len` of array `object` (in bounds): a loop.
    fn fill(&mut self, ty: TypeIndex, object: Value, start: Value, value: Value, len: Value) {
        let elem = self.array_elem(ty);
        let size = i64::from(elem.storage.size());
        let start = self.b.ins().uextend(I64, start);
        let len = self.b.ins().uextend(I64, len);
        let first = self.b.ins().imul_imm_s(start, size);
        let first = self.b.ins().iadd(object, first);
        let first = self.b.ins().iadd_imm_s(first, i64::from(vmgc::ARRAY_HEADER_SIZE));
        let bytes = self.b.ins().imul_imm_s(len, size);
        let end = self.b.ins().iadd(first, bytes);
        let header = self.b.create_block();
        let body = self.b.create_block();
        let done = self.b.create_block();
        let cursor = self.b.append_block_param(header, I64);
        self.b.ins().jump(header, &[BlockArg::Value(first)]);
        self.b.switch_to_block(header);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, cursor, end);
        self.b.ins().brif(more, body, &[], done, &[]);
        self.b.switch_to_block(body);
        self.b.seal_block(body);
        self.store_storage(elem.storage, value, cursor, 0);
        let next = self.b.ins().iadd_imm_s(cursor, size);
        self.b.ins().jump(header, &[BlockArg::Value(next)]);
        self.b.seal_block(header);
        self.b.switch_to_block(done);
        self.b.seal_block(done);
    }

    fn load_storage(&mut self, storage: WasmStorageType, signed: bool, addr: Value, offset: u32) -> Value {
        let flags = trusted();
        let offset = offset as i32;
        match storage {
            WasmStorageType::I8 if signed => self.b.ins().sload8(I32, flags, addr, offset),
            WasmStorageType::I8 => self.b.ins().uload8(I32, flags, addr, offset),
            WasmStorageType::I16 if signed => self.b.ins().sload16(I32, flags, addr, offset),
            WasmStorageType::I16 => self.b.ins().uload16(I32, flags, addr, offset),
            WasmStorageType::Val(v) => {
                let ty = value_type(v).expect("storable value types have Cranelift types");
                self.b.ins().load(ty, flags, addr, offset)
            }
        }
    }

    fn store_storage(&mut self, storage: WasmStorageType, v: Value, addr: Value, offset: u32) {
        let flags = trusted();
        let offset = offset as i32;
        match storage {
            WasmStorageType::I8 => {
                self.b.ins().istore8(flags, v, addr, offset);
            }
            WasmStorageType::I16 => {
                self.b.ins().istore16(flags, v, addr, offset);
            }
            WasmStorageType::Val(_) => {
                self.b.ins().store(flags, v, addr, offset);
            }
        }
    }

    /// 1 if reference `r` belongs to `(ref null? exact? heap)` (`exact`: a concrete type, without
    /// its subtypes: the custom-descriptors proposal's exact types).
    pub(super) fn ref_test_heap(&mut self, r: Value, nullable: bool, heap: WasmHeapType, exact: bool) -> Value {
        use WasmHeapType as H;
        let is_null = self.b.ins().icmp_imm_u(IntCC::Equal, r, 0);
        let is_null = self.b.ins().uextend(I32, is_null);
        let null_result = |t: &mut Self| if nullable { is_null } else { t.b.ins().iconst(I32, 0) };
        match heap {
            // Every non-null value of the hierarchy.
            H::Any | H::Func | H::Extern | H::Exn => {
                if nullable {
                    self.b.ins().iconst(I32, 1)
                } else {
                    self.b.ins().bxor_imm_u(is_null, 1)
                }
            }
            H::None | H::NoFunc | H::NoExtern | H::NoExn => null_result(self),
            // An i31 is odd.
            H::I31 => {
                let word = self.b.ins().ireduce(I32, r);
                let is_i31 = self.b.ins().band_imm_u(word, 1);
                if nullable { self.b.ins().bor(is_i31, is_null) } else { is_i31 }
            }
            // Everything but host references (low bits 0b10) and null.
            H::Eq => {
                let word = self.b.ins().ireduce(I32, r);
                let low = self.b.ins().band_imm_u(word, 3);
                let host = self.b.ins().icmp_imm_u(IntCC::Equal, low, 2);
                let host = self.b.ins().uextend(I32, host);
                let non_null = self.b.ins().bxor_imm_u(is_null, 1);
                let eq = self.b.ins().band_not(non_null, host);
                if nullable { self.b.ins().bor(eq, is_null) } else { eq }
            }
            H::Struct | H::Array | H::Concrete(TypeKind::Struct | TypeKind::Array, _) => {
                let null_value = null_result(self);
                self.object_test(r, null_value, heap, exact)
            }
            H::Concrete(TypeKind::Func, ty) => {
                let null_value = null_result(self);
                self.func_test(r, null_value, ty, exact)
            }
            H::Engine(..) => unreachable!("compiled code uses module type indices"),
        }
    }

    /// A test of a GC-object type: null gives `null_value`, a non-object 0, an object its check.
    fn object_test(&mut self, r: Value, null_value: Value, heap: WasmHeapType, exact: bool) -> Value {
        let done = self.b.create_block();
        let result = self.b.append_block_param(done, I32);
        let non_null = self.b.create_block();
        let object = self.b.create_block();
        self.b.ins().brif(r, non_null, &[], done, &[BlockArg::Value(null_value)]);
        self.b.switch_to_block(non_null);
        self.b.seal_block(non_null);
        let word = self.b.ins().ireduce(I32, r);
        let low = self.b.ins().band_imm_u(word, 3);
        let zero = self.b.ins().iconst(I32, 0);
        self.b.ins().brif(low, done, &[BlockArg::Value(zero)], object, &[]);
        self.b.switch_to_block(object);
        self.b.seal_block(object);
        let id = self.b.ins().load(I32, trusted_readonly(), r, vmgc::TYPE_ID as i32);
        let ok = match heap {
            // A final type has no subtypes, and an exact type admits none: its objects are
            // exactly those of its id.
            WasmHeapType::Concrete(_, ty) if exact || self.env.info.types[ty as usize].is_final => {
                let expected = self.engine_type_id(ty);
                let same = self.b.ins().icmp(IntCC::Equal, id, expected);
                self.b.ins().uextend(I32, same)
            }
            _ => {
                let info = self.type_info_of(id);
                self.info_test(info, heap)
            }
        };
        self.b.ins().jump(done, &[BlockArg::Value(ok)]);
        self.b.switch_to_block(done);
        self.b.seal_block(done);
        result
    }

    /// The `VMGcTypeInfo` of type id `id` (from the engine's table in the store context).
    fn type_info_of(&mut self, id: Value) -> Value {
        let store_ctx = self.store_context();
        let table = self.b.ins().load(
            I64,
            trusted_readonly().with_can_move(),
            store_ctx,
            vmstore_context::GC_TYPE_TABLE as i32,
        );
        let id = self.b.ins().uextend(I64, id);
        let offset = self.b.ins().ishl_imm_u(id, 3);
        let slot = self.b.ins().iadd(table, offset);
        self.b.ins().load(I64, trusted_readonly(), slot, 0)
    }

    /// 1 if the descriptor `info` describes a subtype of `heap` (a struct, array or concrete type).
    fn info_test(&mut self, info: Value, heap: WasmHeapType) -> Value {
        match heap {
            WasmHeapType::Struct | WasmHeapType::Array => {
                let kind = self.b.ins().load(I32, trusted_readonly(), info, vmgc::INFO_KIND as i32);
                let want = if heap == WasmHeapType::Struct { vmgc::KIND_STRUCT } else { vmgc::KIND_ARRAY };
                let ok = self.b.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(want));
                self.b.ins().uextend(I32, ok)
            }
            WasmHeapType::Concrete(_, ty) => self.display_test(info, ty),
            _ => unreachable!("only object types come here"),
        }
    }

    /// 1 if the type descriptor `info` has module type `ty` in its display at `ty`'s depth.
    fn display_test(&mut self, info: Value, ty: TypeIndex) -> Value {
        let depth = self.env.info.type_depth(ty);
        let expected = self.engine_type_id(ty);
        let len = self.b.ins().load(I32, trusted_readonly(), info, vmgc::INFO_DISPLAY_LEN as i32);
        let deep_enough = self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, len, i64::from(depth));
        let display = self.b.ins().load(I64, trusted_readonly(), info, vmgc::INFO_DISPLAY as i32);
        // Read entry 0 when the display is too short (always in bounds), then discard it.
        let index = self.b.ins().iconst(I64, i64::from(depth) * 4);
        let zero = self.b.ins().iconst(I64, 0);
        let index = self.b.ins().select(deep_enough, index, zero);
        let addr = self.b.ins().iadd(display, index);
        let entry = self.b.ins().load(I32, trusted_readonly(), addr, 0);
        let same = self.b.ins().icmp(IntCC::Equal, entry, expected);
        let ok = self.b.ins().band(same, deep_enough);
        self.b.ins().uextend(I32, ok)
    }

    /// The engine id of module type `ty` (from the `VMContext`'s type id array).
    pub(super) fn engine_type_id(&mut self, ty: TypeIndex) -> Value {
        let type_ids =
            self.b.ins().load(I64, trusted_readonly().with_can_move(), self.vmctx, VMOffsets::TYPE_IDS as i32);
        self.b.ins().load(I32, trusted_readonly(), type_ids, (ty * 4) as i32)
    }

    /// A test of a function reference against module function type `ty` (exactly `ty` if
    /// `exact`).
    fn func_test(&mut self, r: Value, null_value: Value, ty: TypeIndex, exact: bool) -> Value {
        let done = self.b.create_block();
        let result = self.b.append_block_param(done, I32);
        let non_null = self.b.create_block();
        self.b.ins().brif(r, non_null, &[], done, &[BlockArg::Value(null_value)]);
        self.b.switch_to_block(non_null);
        self.b.seal_block(non_null);
        let actual = self.b.ins().load(I32, trusted_readonly(), r, vmfuncref::TYPE_ID as i32);
        let ok = if exact {
            let expected = self.engine_type_id(ty);
            let same = self.b.ins().icmp(IntCC::Equal, actual, expected);
            self.b.ins().uextend(I32, same)
        } else {
            self.func_subtype(actual, ty)
        };
        self.b.ins().jump(done, &[BlockArg::Value(ok)]);
        self.b.switch_to_block(done);
        self.b.seal_block(done);
        result
    }

    /// 1 if engine type `actual` is module type `ty` or (for a non-final `ty`) a subtype of it.
    pub(super) fn func_subtype(&mut self, actual: Value, ty: TypeIndex) -> Value {
        let expected = self.engine_type_id(ty);
        let same = self.b.ins().icmp(IntCC::Equal, actual, expected);
        let same = self.b.ins().uextend(I32, same);
        if self.env.info.types[ty as usize].is_final {
            return same;
        }
        let done = self.b.create_block();
        let result = self.b.append_block_param(done, I32);
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        self.b.ins().brif(same, done, &[BlockArg::Value(same)], slow, &[]);
        self.b.switch_to_block(slow);
        self.b.seal_block(slow);
        let sub = self.call_builtin(Builtin::IsSubtype, &[actual, expected]).expect("a result");
        self.b.ins().jump(done, &[BlockArg::Value(sub)]);
        self.b.switch_to_block(done);
        self.b.seal_block(done);
        result
    }
}

;; With guard pages, only accesses whose static offset reaches past 4 GiB are checked.
(module
  (memory 1)
  (func (param i32) (result i32)
    local.get 0 i32.load offset=4294967295 local.get 0 i32.load offset=65536 i32.add))

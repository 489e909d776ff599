;; gonames: the shape of a Go (gc, wasip1) plugin for symbolize's Go
;; names: the name section holds names as Go's wasm linker writes them
;; (characters outside [A-Za-z0-9_.] become '_'), and the data section
;; holds the runtime's pclntab, whose function-name table has the names Go
;; prints. The pclntab is split in two data segments around a run of zeros,
;; as Go's linker writes them. github.com/a/b-c.F and github.com/a/b_c.F
;; share one written form: neither is restored.
;; Build: wat2wasm --debug-names gonames.wat -o gonames.wasm
(module
  (memory (export "memory") 1)
  (func $github.com_proxy_wasm_proxy_wasm_go_sdk_proxywasm_internal.proxyOnContextCreate (param i32) (result i32) unreachable)
  (func $main.__filter_.OnHttpRequestHeaders (param i32) (result i32) i32.const 0)
  (func $github.com_a_b_c.F (param i32) (result i32) i32.const 0)
  (func $main.main (param i32) (result i32) i32.const 0)
  (data (i32.const 4096) "\f1\ff\ff\ff\00\00\01\08\06\00\00\00\00\00\00\00\01\00\00\00\00\00\00\00")
  (data (i32.const 4128) "\48\00\00\00\00\00\00\00\f7\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\67\6f\3a\62\75\69\6c\64\69\64\00\67\69\74\68\75\62\2e\63\6f\6d\2f\70\72\6f\78\79\2d\77\61\73\6d\2f\70\72\6f\78\79\2d\77\61\73\6d\2d\67\6f\2d\73\64\6b\2f\70\72\6f\78\79\77\61\73\6d\2f\69\6e\74\65\72\6e\61\6c\2e\70\72\6f\78\79\4f\6e\43\6f\6e\74\65\78\74\43\72\65\61\74\65\00\6d\61\69\6e\2e\28\2a\66\69\6c\74\65\72\29\2e\4f\6e\48\74\74\70\52\65\71\75\65\73\74\48\65\61\64\65\72\73\00\67\69\74\68\75\62\2e\63\6f\6d\2f\61\2f\62\2d\63\2e\46\00\67\69\74\68\75\62\2e\63\6f\6d\2f\61\2f\62\5f\63\2e\46\00\6d\61\69\6e\2e\6d\61\69\6e\00")
)

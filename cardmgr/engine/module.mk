# cardmgr/engine/: the engine process (LMDB, operations, card I/O, CA link).
# The card sequence alone, with test stand-ins for the station's services:
TESTS += cops_tool
$(eval $(call prog,cops_tool,tests/engine/cops_tool.c cardmgr/engine/cardops.c $(DRIVERS_LIB),$(DRIVERS_LIBS)))

# The approval request record decoder (engine/apr_rec.c): LMDB records are
# untrusted after a crash or tampering.
FUZZERS += fuzz_apr_rec
$(eval $(call fuzzer,fuzz_apr_rec,tests/fuzz/fuzz_apr_rec.c cardmgr/engine/apr_rec.c drivers/buf.c,))

# The stock receipt's serial list parser (pure: no engine needed).
FUZZERS += fuzz_stk_serials
$(eval $(call fuzzer,fuzz_stk_serials,tests/fuzz/fuzz_stk_serials.c cardmgr/engine/stock_parse.c,))

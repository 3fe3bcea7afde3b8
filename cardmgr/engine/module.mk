# cardmgr/engine/: the engine process (LMDB, operations, card I/O, CA link).
# The card sequence alone, with test stand-ins for the station's services:
TESTS += cops_tool
$(eval $(call prog,cops_tool,tests/engine/cops_tool.c cardmgr/engine/cardops.c $(DRIVERS_LIB),$(DRIVERS_LIBS)))
# The stock receipt's serial list parser (pure: no engine needed).
$(eval $(call fuzzer,fuzz_stk_serials,tests/fuzz/fuzz_stk_serials.c cardmgr/engine/stock_parse.c))

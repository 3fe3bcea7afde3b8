# cardmgr/engine/: the engine process (LMDB, operations, card I/O, CA link).
# The card sequence alone, with test stand-ins for the station's services:
TESTS += cops_tool
$(eval $(call prog,cops_tool,tests/engine/cops_tool.c cardmgr/engine/cardops.c $(DRIVERS_LIB),$(DRIVERS_LIBS)))

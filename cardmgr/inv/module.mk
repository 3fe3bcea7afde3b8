# cardmgr/inv/: unit tests and the record-decoder fuzzer of the inventory
# (its benchmark: tests/bench/).
TESTS += test_inv test_inv_audit
$(eval $(call prog,test_inv,tests/unit/test_inv.c $(INV_LIB),-lcmocka -lsodium $(INV_LIBS)))
$(eval $(call prog,test_inv_audit,tests/unit/test_inv_audit.c $(INV_LIB),-lcmocka $(INV_LIBS)))
# The fault hook (inv_test_fail_at: fail the n-th LMDB write) exists in the
# test builds only; the release build has no way to make a write fail.
ifneq ($(MODE),release)
$(patsubst %.c,$(B)/obj/%.o,$(filter cardmgr/inv/%,$(INV_LIB)) tests/unit/test_inv.c): CFLAGS += -DINV_TEST_HOOKS
endif

FUZZERS += fuzz_inv_rec
$(eval $(call fuzzer,fuzz_inv_rec,tests/fuzz/fuzz_inv_rec.c $(INV_LIB),$(INV_LIBS)))


# The encrypted backup's decoder and key text (`cardmgr restore`); its seeds
# are real backups to a fixed key (tests/fuzz/bkp_seed_main.c).
FUZZERS += fuzz_bkp
$(eval $(call fuzzer,fuzz_bkp,tests/fuzz/fuzz_bkp.c cardmgr/inv/backup.c,-lsodium))

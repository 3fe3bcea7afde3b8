# cardmgr/inv/: unit tests and the record-decoder fuzzer of the inventory.
TESTS += test_inv test_inv_audit
$(eval $(call prog,test_inv,tests/unit/test_inv.c $(INV_LIB),-lcmocka -lsodium $(INV_LIBS)))
$(eval $(call prog,test_inv_audit,tests/unit/test_inv_audit.c $(INV_LIB),-lcmocka $(INV_LIBS)))

FUZZERS += fuzz_inv_rec
$(eval $(call fuzzer,fuzz_inv_rec,tests/fuzz/fuzz_inv_rec.c $(INV_LIB),$(INV_LIBS)))

BENCHES += bench_inv
$(eval $(call prog,bench_inv,tests/bench_inv.c $(INV_LIB),$(INV_LIBS)))

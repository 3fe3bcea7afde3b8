# drivers/: card access libraries (see drivers/README.md).
DRIVERS_CORE := drivers/buf.c drivers/tlv.c

TESTS += test_tlv
$(eval $(call prog,test_tlv,tests/unit/test_tlv.c $(DRIVERS_CORE),-lcmocka))

FUZZERS += fuzz_tlv
$(eval $(call fuzzer,fuzz_tlv,tests/fuzz/fuzz_tlv.c $(DRIVERS_CORE)))

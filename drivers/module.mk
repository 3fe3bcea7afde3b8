# drivers/: card access libraries (see drivers/README.md).
# Library source lists: drivers/lib.mk.

TESTS += test_tlv
$(eval $(call prog,test_tlv,tests/unit/test_tlv.c $(DRIVERS_CORE),-lcmocka))

TESTS += test_drv_apdu
$(eval $(call prog,test_drv_apdu,tests/unit/test_drv_apdu.c $(DRV_FAKE) $(DRIVERS_LIB),-lcmocka $(DRIVERS_LIBS)))

FUZZERS += fuzz_tlv
$(eval $(call fuzzer,fuzz_tlv,tests/fuzz/fuzz_tlv.c $(DRIVERS_CORE)))

# winscard.h includes <pcsclite.h> from its own directory.
$(B)/obj/drivers/pcsc.o: CFLAGS += -I/usr/include/PCSC

PROGS += drvtool
$(eval $(call prog,drvtool,drivers/drvtool.c $(DRIVERS_LIB),$(DRIVERS_LIBS)))

TESTS += test_drv_piv
$(eval $(call prog,test_drv_piv,tests/unit/test_drv_piv.c $(DRV_FAKE) $(DRIVERS_LIB),-lcmocka $(DRIVERS_LIBS)))

# libFuzzer harnesses for the parsers of card responses (corpora in tests/fuzz/corpus/).
DRV_PARSE := $(DRIVERS_CORE) drivers/piv_obj.c
FUZZERS += fuzz_piv_chuid fuzz_piv_certobj fuzz_piv_objects fuzz_piv_metadata \
           fuzz_piv_pubkey fuzz_resp_apdu fuzz_resp_atr
$(eval $(call fuzzer,fuzz_piv_chuid,tests/fuzz/fuzz_piv_chuid.c $(DRV_PARSE),-lcrypto -lz))
$(eval $(call fuzzer,fuzz_piv_certobj,tests/fuzz/fuzz_piv_certobj.c $(DRV_PARSE),-lcrypto -lz))
$(eval $(call fuzzer,fuzz_piv_objects,tests/fuzz/fuzz_piv_objects.c $(DRV_PARSE),-lcrypto -lz))
$(eval $(call fuzzer,fuzz_piv_metadata,tests/fuzz/fuzz_piv_metadata.c $(DRV_PARSE),-lcrypto -lz))
$(eval $(call fuzzer,fuzz_piv_pubkey,tests/fuzz/fuzz_piv_pubkey.c $(DRV_PARSE),-lcrypto -lz))
$(eval $(call fuzzer,fuzz_resp_apdu,tests/fuzz/fuzz_resp_apdu.c $(DRIVERS_CORE) drivers/apdu.c))
$(eval $(call fuzzer,fuzz_resp_atr,tests/fuzz/fuzz_resp_atr.c $(DRIVERS_CORE) drivers/pcsc.c,-lpcsclite))

TESTS += test_drv_pcsc
$(eval $(call prog,test_drv_pcsc,tests/unit/test_drv_pcsc.c $(DRV_FAKE) $(DRIVERS_LIB),-lcmocka $(DRIVERS_LIBS)))

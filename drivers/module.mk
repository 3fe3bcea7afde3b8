# drivers/: card access libraries (see drivers/README.md).
DRIVERS_CORE := drivers/buf.c drivers/tlv.c
# The card access library cardmgr links: link with $(DRIVERS_LIBS).
DRIVERS_LIB  := $(DRIVERS_CORE) drivers/apdu.c drivers/piv.c drivers/piv_obj.c drivers/piv_key.c drivers/pcsc.c drivers/p11.c
DRIVERS_LIBS := -lcrypto -lz -lpcsclite -lp11
DRV_FAKE     := tests/drivers/fake_transport.c

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

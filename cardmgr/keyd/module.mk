# cardmgr/keyd/: keystore and signing seam (see cardmgr/keyd/ks.h, rkey.h,
# docs/keystore.md). Library source lists: cardmgr/keyd/lib.mk.

# The raw PKCS#11 header comes from libp11-kit-dev.
$(patsubst %.c,$(B)/obj/%.o,$(KEYD_P11)): CFLAGS += -I/usr/include/p11-kit-1

TESTS += test_ks
$(eval $(call prog,test_ks,tests/unit/test_ks.c $(KSTOKEN) $(KEYD_LIB) $(DRV_FAKE) $(DRIVERS_LIB),-lcmocka $(KEYD_LIBS) $(DRIVERS_LIBS)))

TESTS += test_ks_rkey
$(eval $(call prog,test_ks_rkey,tests/unit/test_ks_rkey.c $(KSTOKEN) $(KEYD_LIB),-lcmocka -lssl $(KEYD_LIBS)))

FUZZERS += fuzz_kh_reply
$(eval $(call fuzzer,fuzz_kh_reply,tests/fuzz/fuzz_kh_reply.c cardmgr/keyd/kh_reply.c $(PROC_LIB) drivers/buf.c,$(PROC_LIBS)))

FUZZERS += fuzz_ks_escrow
$(eval $(call fuzzer,fuzz_ks_escrow,tests/fuzz/fuzz_ks_escrow.c cardmgr/keyd/ks_blob.c drivers/buf.c))

# Fault injection into the PKCS#11 calls: reaches into struct ks (ks_int.h).
TESTS += test_ks_fault
$(eval $(call prog,test_ks_fault,tests/unit/test_ks_fault.c $(KSTOKEN) $(KEYD_LIB),-lcmocka $(KEYD_LIBS)))
$(B)/obj/tests/unit/test_ks_fault.o: CFLAGS += -I/usr/include/p11-kit-1

# keyd's process loop: permit table, 9B challenge budget, key exported once.
TESTS += test_keyd
$(eval $(call prog,test_keyd,tests/unit/test_keyd.c cardmgr/keyd/keyd.c cardmgr/keyd/ledger.c $(KEYD_HELPER) cardmgr/proc/log.c cardmgr/proc/sandbox.c $(PROC_LIB) $(KSTOKEN) $(KEYD_LIB),-lcmocka -lsodium -lseccomp $(KEYD_LIBS)))
$(B)/obj/tests/unit/test_keyd.o: CFLAGS += -I/usr/include/p11-kit-1

# A PKCS#11 module that crashes on C_Sign, wrapping SoftHSM2
# (tests/keyd/crash_pkcs11.c; daemon/t_daemon_p11crash).
PROGS += crash_pkcs11.so
$(B)/obj/tests/keyd/crash_pkcs11.o: CFLAGS += -fPIC -I/usr/include/p11-kit-1
$(B)/bin/crash_pkcs11.so: $(B)/obj/tests/keyd/crash_pkcs11.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared $^ -o $@ -Wl,-z,relro,-z,now,-z,noexecstack $(SAN) -ldl

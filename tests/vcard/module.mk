# tests/vcard/: the virtual PIV card (see tests/vcard/README.md).
VCARD_LIB := tests/vcard/vc_apdu.c tests/vcard/vc_card.c tests/vcard/vc_piv.c \
             tests/vcard/vc_yk.c tests/vcard/vc_crypto.c tests/vcard/vc_store.c \
             $(DRIVERS_CORE)

PROGS += vcard
$(eval $(call prog,vcard,tests/vcard/vc_main.c tests/vcard/vc_trace.c $(VCARD_LIB),-lcrypto))

TESTS += test_vcard
$(eval $(call prog,test_vcard,tests/unit/test_vcard.c tests/vcard/vc_trace.c $(VCARD_LIB),-lcmocka -lcrypto))

FUZZERS += fuzz_apdu fuzz_apdu_state
$(eval $(call fuzzer,fuzz_apdu,tests/fuzz/fuzz_apdu.c $(VCARD_LIB),-lcrypto))
$(eval $(call fuzzer,fuzz_apdu_state,tests/fuzz/fuzz_apdu_state.c $(VCARD_LIB),-lcrypto))

# cardmgr/: the CA link (CMP client, station key, CRL, outbox) and its CLI.
CALINK := cardmgr/ca.c cardmgr/catls.c cardmgr/cacrl.c cardmgr/caidm.c \
          cardmgr/cakey.c cardmgr/caconf.c cardmgr/cafile.c cardmgr/outbox.c \
          cardmgr/outbox_rec.c drivers/buf.c drivers/tlv.c
CALINK_LIBS := -lp11 -lssl -lcrypto -llmdb

PROGS += cardmgr-ca
CACLI := cardmgr/cacli.c cardmgr/cacli_link.c cardmgr/cacli_ops.c cardmgr/cacli_crl.c \
         cardmgr/cacli_station.c
$(eval $(call prog,cardmgr-ca,$(CACLI) $(CALINK),$(CALINK_LIBS)))
# The crash points of the tests (CARDMGR_CA_CRASH_AT) exist in the test
# builds only: the appliance's release build has no environment variable
# that stops it half-way through an operation.
ifneq ($(MODE),release)
$(patsubst %.c,$(B)/obj/%.o,$(CACLI)): CFLAGS += -DCARDMGR_CA_TEST_HOOKS
endif

TESTS += test_outbox
$(eval $(call prog,test_outbox,tests/unit/test_outbox.c cardmgr/outbox.c cardmgr/outbox_rec.c drivers/buf.c,-lcmocka -llmdb -lcrypto))

FUZZERS += fuzz_cmp_response fuzz_cmp_outbox
$(eval $(call fuzzer,fuzz_cmp_response,tests/fuzz/fuzz_cmp_response.c,-lcrypto))
$(eval $(call fuzzer,fuzz_cmp_outbox,tests/fuzz/fuzz_cmp_outbox.c cardmgr/outbox_rec.c drivers/buf.c,-lcrypto))

TESTS += test_caconf
$(eval $(call prog,test_caconf,tests/unit/test_caconf.c cardmgr/caconf.c,-lcmocka))

FUZZERS += fuzz_cmp_cacerts
$(eval $(call fuzzer,fuzz_cmp_cacerts,tests/fuzz/fuzz_cmp_cacerts.c $(CALINK),$(CALINK_LIBS)))

TESTS += test_ca
$(eval $(call prog,test_ca,tests/unit/test_ca.c $(CALINK),-lcmocka $(CALINK_LIBS)))

FUZZERS += fuzz_caconf
$(eval $(call fuzzer,fuzz_caconf,tests/fuzz/fuzz_caconf.c cardmgr/caconf.c))

# cardmgr/ca/: the CA link library (lib.mk) and the cardmgr-ca CLI, whose
# sources live in cardmgr/cli/ (argv handling and printing only).

PROGS += cardmgr-ca
CACLI := cardmgr/cli/cacli.c cardmgr/cli/cacli_ops.c \
         cardmgr/cli/cacli_crl.c cardmgr/cli/cacli_station.c
$(eval $(call prog,cardmgr-ca,$(CACLI) $(CALINK),$(CALINK_LIBS)))
# The crash points of the tests (CARDMGR_CA_CRASH_AT) exist in the test
# builds only: the appliance's release build has no environment variable
# that stops it half-way through an operation.
ifneq ($(MODE),release)
$(B)/obj/cardmgr/ca/station.o $(B)/obj/cardmgr/ca/station_ops.o: CFLAGS += -DCARDMGR_CA_TEST_HOOKS
endif

TESTS += test_outbox
$(eval $(call prog,test_outbox,tests/unit/test_outbox.c $(OUTBOX_LIB),-lcmocka -llmdb -lcrypto))

FUZZERS += fuzz_cmp_response fuzz_cmp_outbox
CMPREPLAY := tests/fuzz/cmp_replay.c tests/fuzz/cmp_seed.c
$(eval $(call fuzzer,fuzz_cmp_response,tests/fuzz/fuzz_cmp_response.c $(CMPREPLAY) $(CALINK),$(CALINK_LIBS)))
# Its seed recorder (tests/fuzz/cmp_response_seeds.sh) and the test of what
# each seed yields: test code that pins OpenSSL's randomness, so never in
# the release tree.
ifneq ($(MODE),release)
PROGS += cmp_record
$(eval $(call prog,cmp_record,tests/fuzz/cmp_record.c tests/fuzz/cmp_seed.c $(CALINK),$(CALINK_LIBS)))
TESTS += test_cmp_replay
$(eval $(call prog,test_cmp_replay,tests/unit/test_cmp_replay.c $(CMPREPLAY) $(CALINK),-lcmocka $(CALINK_LIBS)))
endif
$(eval $(call fuzzer,fuzz_cmp_outbox,tests/fuzz/fuzz_cmp_outbox.c cardmgr/ca/outbox_rec.c drivers/buf.c,-lcrypto))

TESTS += test_caconf
$(eval $(call prog,test_caconf,tests/unit/test_caconf.c cardmgr/ca/caconf.c,-lcmocka))

FUZZERS += fuzz_cmp_cacerts
$(eval $(call fuzzer,fuzz_cmp_cacerts,tests/fuzz/fuzz_cmp_cacerts.c $(CALINK),$(CALINK_LIBS)))

TESTS += test_ca
$(eval $(call prog,test_ca,tests/unit/test_ca.c $(CALINK),-lcmocka $(CALINK_LIBS)))

FUZZERS += fuzz_caconf
$(eval $(call fuzzer,fuzz_caconf,tests/fuzz/fuzz_caconf.c cardmgr/ca/caconf.c))

TESTS += test_station
$(eval $(call prog,test_station,tests/unit/test_station.c $(CALINK),-lcmocka $(CALINK_LIBS)))

# cardmgr/notify/: unit tests of the notice journal, its record codec and
# the message, and the record decoder's fuzzer; test_csv for proc/csv.c.
TESTS += test_notify test_csv
$(eval $(call prog,test_notify,tests/unit/test_notify.c $(NOTIFY_LIB) drivers/buf.c,-lcmocka $(NOTIFY_LIBS)))
$(eval $(call prog,test_csv,tests/unit/test_csv.c $(CSV_LIB),-lcmocka $(CSV_LIBS)))

FUZZERS += fuzz_ntf_rec
$(eval $(call fuzzer,fuzz_ntf_rec,tests/fuzz/fuzz_ntf_rec.c cardmgr/notify/notify.c drivers/buf.c,-llmdb))

# cardmgr/api/: the HTTP/JSON API process (api_main), its tests and fuzzers,
# and the unit tests of cardmgr/proc/ (msg, ops). Library lists: cardmgr/api/lib.mk.

TESTS += test_msg
$(eval $(call prog,test_msg,tests/unit/test_msg.c $(PROC_LIB) drivers/buf.c,-lcmocka $(PROC_LIBS)))

# The api process in a test program, with a fake engine (tests/api/t_api.sh).
PROGS += api_harness
$(eval $(call prog,api_harness,tests/api/api_harness.c $(API_LIB) $(PROC_LIB) drivers/buf.c,$(API_LIBS)))

TESTS += test_api_ops
$(eval $(call prog,test_api_ops,tests/unit/test_api_ops.c $(PROC_LIB) drivers/buf.c,-lcmocka $(PROC_LIBS)))

TESTS += test_api_req
$(eval $(call prog,test_api_req,tests/unit/test_api_req.c cardmgr/api/api_req.c $(PROC_LIB) drivers/buf.c,-lcmocka -ljansson -lsodium $(PROC_LIBS)))

TESTS += test_api_session
$(eval $(call prog,test_api_session,tests/unit/test_api_session.c cardmgr/api/api_session.c,-lcmocka))

# libFuzzer harnesses (corpora: tests/fuzz/corpus/msg, api_req, api_session).
FUZZERS += fuzz_msg fuzz_api_req fuzz_api_session
$(eval $(call fuzzer,fuzz_api_session,tests/fuzz/fuzz_api_session.c cardmgr/api/api_session.c,))
$(eval $(call fuzzer,fuzz_msg,tests/fuzz/fuzz_msg.c $(PROC_LIB) drivers/buf.c,$(PROC_LIBS)))
$(eval $(call fuzzer,fuzz_api_req,tests/fuzz/fuzz_api_req.c cardmgr/api/api_req.c $(PROC_LIB) drivers/buf.c,-ljansson -lsodium $(PROC_LIBS)))

# The kiosk UI's static files (api_static.c): path mapping and reading
# (corpus: tests/fuzz/corpus/api_static; HTTP end to end: tests/api/t_api_static.sh).
TESTS += test_api_static
$(eval $(call prog,test_api_static,tests/unit/test_api_static.c cardmgr/api/api_static.c,-lcmocka -lmicrohttpd))
FUZZERS += fuzz_api_static
$(eval $(call fuzzer,fuzz_api_static,tests/fuzz/fuzz_api_static.c cardmgr/api/api_static.c,-lmicrohttpd))

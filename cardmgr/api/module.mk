# cardmgr/api/: the HTTP/JSON API process (api_main), its tests and fuzzers,
# and the unit tests of cardmgr/proc/ (msg, ops). Library lists: cardmgr/api/lib.mk.

TESTS += test_msg
$(eval $(call prog,test_msg,tests/unit/test_msg.c $(PROC_LIB) drivers/buf.c,-lcmocka $(PROC_LIBS)))

# cardmgr/policy/: unit tests and fuzzers (library list in lib.mk).
TESTS += test_policy_prof test_policy_pin test_policy_ans test_policy_opr test_policy_lc test_policy_renew
$(eval $(call prog,test_policy_prof,tests/unit/test_policy_prof.c $(POLICY_LIB),-lcmocka $(POLICY_LIBS)))
$(eval $(call prog,test_policy_pin,tests/unit/test_policy_pin.c $(POLICY_LIB),-lcmocka $(POLICY_LIBS)))
$(eval $(call prog,test_policy_ans,tests/unit/test_policy_ans.c $(POLICY_LIB),-lcmocka $(POLICY_LIBS)))
$(eval $(call prog,test_policy_opr,tests/unit/test_policy_opr.c $(POLICY_LIB),-lcmocka $(POLICY_LIBS)))
$(eval $(call prog,test_policy_lc,tests/unit/test_policy_lc.c $(POLICY_LIB),-lcmocka $(POLICY_LIBS)))
$(eval $(call prog,test_policy_renew,tests/unit/test_policy_renew.c $(POLICY_LIB),-lcmocka $(POLICY_LIBS)))

FUZZERS += fuzz_prof fuzz_prof_secret fuzz_lc
$(eval $(call fuzzer,fuzz_prof,tests/fuzz/fuzz_prof.c $(POLICY_LIB),$(POLICY_LIBS)))
$(eval $(call fuzzer,fuzz_prof_secret,tests/fuzz/fuzz_prof_secret.c $(POLICY_LIB),$(POLICY_LIBS)))
$(eval $(call fuzzer,fuzz_lc,tests/fuzz/fuzz_lc.c $(POLICY_LIB),$(POLICY_LIBS)))

PROGS += cardmgr-policy-check
$(eval $(call prog,cardmgr-policy-check,cardmgr/policy/policy_check.c $(POLICY_LIB),$(POLICY_LIBS)))

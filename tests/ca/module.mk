# tests/ca/: the test CA (a CMP server on OSSL_CMP_SRV_CTX) and its DER helpers.
CADER := tests/ca/cader.c drivers/buf.c drivers/tlv.c

PROGS += testca
TESTCA := tests/ca/testca.c tests/ca/testca_issue.c tests/ca/testca_crl.c \
          tests/ca/testca_fault.c cardmgr/ca/cafile.c
$(eval $(call prog,testca,$(TESTCA) $(CADER),-lcrypto))

FUZZERS += fuzz_cmp_der
$(eval $(call fuzzer,fuzz_cmp_der,tests/fuzz/fuzz_cmp_der.c $(CADER),-lcrypto))

# cardmgr/keyd/: the station keystore (ks_*, raw PKCS#11) and the OpenSSL
# signing seam (rkey_*). Link with $(KEYD_LIBS). drivers/buf.c is listed here
# too: make's $^ drops the duplicate when a program also links DRIVERS_CORE.
KEYD_P11   := cardmgr/keyd/ks.c cardmgr/keyd/ks_sign.c cardmgr/keyd/ks_escrow.c
KEYD_LIB   := $(KEYD_P11) cardmgr/keyd/ks_blob.c cardmgr/keyd/rkey.c drivers/buf.c
KEYD_LIBS  := -ldl -lcrypto
# The engine process links only the seam: no PKCS#11, no token.
RKEY_LIB   := cardmgr/keyd/rkey.c
# Test helper: a fresh SoftHSM2 token in a temp dir (tests/keyd/kstoken.h).
KSTOKEN    := tests/keyd/kstoken.c
# keyd's PKCS#11 helper: kh (keyd's side), kh_reply (the decoder of its
# answers, fuzzed), p11h (the helper process that runs the module).
KEYD_HELPER := cardmgr/keyd/kh.c cardmgr/keyd/kh_reply.c cardmgr/keyd/p11h.c

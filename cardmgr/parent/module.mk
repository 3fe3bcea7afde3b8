# cardmgr/parent/: cardmgrd, the daemon: the parent, and linked in, the three
# processes it forks (api/, engine/, keyd/) with the libraries each uses.
CARDMGRD_SRC := cardmgr/parent/cardmgrd.c cardmgr/parent/dconf.c cardmgr/parent/dconf_stock.c \
                cardmgr/proc/proc.c cardmgr/proc/log.c cardmgr/proc/sandbox.c \
                $(PROC_LIB) $(API_LIB) \
                $(ENGINE_LIB) cardmgr/keyd/keyd.c cardmgr/keyd/ledger.c $(KEYD_HELPER) $(KEYD_LIB) $(INV_LIB) \
                $(POLICY_LIB) $(CALINK) $(DRIVERS_LIB) $(NOTIFY_LIB) $(CSV_LIB)
CARDMGRD_LIBS := $(API_LIBS) $(KEYD_LIBS) $(INV_LIBS) $(POLICY_LIBS) \
                 $(CALINK_LIBS) $(DRIVERS_LIBS) $(NOTIFY_LIBS) $(CSV_LIBS) \
                 -ljansson -lsodium -lpthread -lseccomp
PROGS += cardmgrd
$(eval $(call prog,cardmgrd,$(sort $(CARDMGRD_SRC)),$(CARDMGRD_LIBS)))
$(B)/obj/cardmgr/keyd/keyd.o: CFLAGS += -I/usr/include/p11-kit-1
$(B)/obj/cardmgr/engine/audit_log.o $(B)/obj/cardmgr/engine/keyc.o: CFLAGS += -I/usr/include/p11-kit-1
# Crash points (CARDMGRD_CRASH_AT) and the sandbox probe
# (CARDMGRD_SECCOMP_PROBE) exist in test builds only.
ifneq ($(MODE),release)
$(patsubst %.c,$(B)/obj/%.o,$(ENGINE_LIB) cardmgr/proc/sandbox.c): CFLAGS += -DCARDMGR_TEST_HOOKS
endif

# The post-issuance self-test runs in a child process (engine/selftest_main.c).
PROGS += cardmgr-selftest
$(eval $(call prog,cardmgr-selftest,cardmgr/engine/selftest_main.c cardmgr/engine/cardops.c cardmgr/proc/sandbox.c $(DRIVERS_LIB),$(DRIVERS_LIBS) -lseccomp))

# cardmgrd.conf's parser from memory (every parser has a harness).
FUZZERS += fuzz_dconf
$(eval $(call fuzzer,fuzz_dconf,tests/fuzz/fuzz_dconf.c cardmgr/parent/dconf.c cardmgr/parent/dconf_stock.c $(POLICY_LIB) cardmgr/ca/caconf.c cardmgr/notify/notify.c drivers/buf.c,-lconfig -lsodium -llmdb))

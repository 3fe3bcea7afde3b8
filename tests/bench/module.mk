# tests/bench/: benchmark programs (make bench; see docs/daemon-bench.md).
BENCHES += bench_inv mhd_hello argon_cost uds_relay
$(eval $(call prog,bench_inv,tests/bench/bench_inv.c cardmgr/engine/renew_inv.c $(INV_LIB) $(POLICY_LIB),$(INV_LIBS) $(POLICY_LIBS)))
$(eval $(call prog,mhd_hello,tests/bench/mhd_hello.c,-lmicrohttpd))
$(eval $(call prog,argon_cost,tests/bench/argon_cost.c,-lsodium))
$(eval $(call prog,uds_relay,tests/bench/uds_relay.c,-lpthread))
BENCHES += outbox_fill
$(eval $(call prog,outbox_fill,tests/bench/outbox_fill.c $(sort $(INV_LIB) $(OUTBOX_LIB)),$(INV_LIBS)))

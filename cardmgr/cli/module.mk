# cardmgr/cli/: command line clients of the station.

# cardmgr: the HTTP API over the UNIX socket (man page: cardmgr/cli/cardmgr.1).
PROGS += cardmgr
CARDMGR_CLI := cardmgr/cli/cardmgr.c cardmgr/cli/cardmgr_http.c \
               cardmgr/cli/cardmgr_secret.c cardmgr/cli/cardmgr_report.c \
               cardmgr/cli/cardmgr_backup.c cardmgr/inv/backup.c $(CSV_LIB) \
               cardmgr/cli/cardmgr_operator.c cardmgr/cli/cardmgr_cert.c cardmgr/cli/cardmgr_stock.c \
               cardmgr/cli/cardmgr_approval.c \
               cardmgr/policy/operators.c \
               cardmgr/policy/pcfg.c drivers/buf.c
$(eval $(call prog,cardmgr,$(CARDMGR_CLI),-lcurl -ljansson -lsodium -llmdb -lconfig -lcrypto))

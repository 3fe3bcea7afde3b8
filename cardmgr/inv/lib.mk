# cardmgr/inv/: the LMDB inventory and the hash-chained audit log (no rules here).
INV_LIB  := cardmgr/inv/inv.c cardmgr/inv/inv_rec.c cardmgr/inv/inv_card.c \
            cardmgr/inv/inv_op.c cardmgr/inv/inv_migrate.c cardmgr/inv/audit.c \
            cardmgr/inv/inv_stock.c cardmgr/inv/inv_escrow.c \
            drivers/buf.c
INV_LIBS := -llmdb -lcrypto

# cardmgr/ca/: the CA link library (CMP client, TLS, station key, CRL, IdM push,
# outbox, station logic). Source lists and link flags only: rules are in
# cardmgr/ca/module.mk (see docs/build.md).
CALINK := cardmgr/ca/station.c cardmgr/ca/station_ops.c cardmgr/ca/ca.c cardmgr/ca/catls.c cardmgr/ca/cahttp.c cardmgr/ca/cacrl.c cardmgr/ca/caidm.c \
          cardmgr/ca/cakey.c cardmgr/ca/caconf.c cardmgr/ca/cafile.c \
          cardmgr/ca/outbox.c cardmgr/ca/outbox_rec.c \
          drivers/buf.c drivers/tlv.c
CALINK_LIBS := -lp11 -lssl -lcrypto -llmdb
# The outbox alone (LMDB journal and its record codec).
OUTBOX_LIB := cardmgr/ca/outbox.c cardmgr/ca/outbox_rec.c drivers/buf.c

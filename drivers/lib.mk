# drivers/: the card access libraries other modules link (no rules here).
DRIVERS_CORE := drivers/buf.c drivers/tlv.c
# The card access library cardmgr links: link with $(DRIVERS_LIBS).
DRIVERS_LIB  := $(DRIVERS_CORE) drivers/apdu.c drivers/piv.c drivers/piv_obj.c drivers/piv_key.c drivers/pcsc.c drivers/p11.c
DRIVERS_LIBS := -lcrypto -lz -lpcsclite -lp11
DRV_FAKE     := tests/drivers/fake_transport.c

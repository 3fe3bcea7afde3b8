# cardmgr/proc/: what the station's processes share (no rules here).
# msg: the inter-process message format; ops: the API operation table.
# Link with drivers/buf.c ($(DRIVERS_CORE) has it); not listed here so that
# a program linking both lists gets buf.c once.
PROC_LIB  := cardmgr/proc/msg.c cardmgr/proc/ops.c
PROC_LIBS := -lcrypto
# csv: reports as CSV, written the same way by the engine and the CLI.
CSV_LIB   := cardmgr/proc/csv.c
CSV_LIBS  := -ljansson

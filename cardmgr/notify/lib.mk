# cardmgr/notify/: expiry notices: the LMDB notice journal and the SMTP
# client (libcurl). Source lists and link flags only (rules: module.mk).
NOTIFY_LIB  := cardmgr/notify/notify.c cardmgr/notify/smtp.c
NOTIFY_LIBS := -lcurl -llmdb

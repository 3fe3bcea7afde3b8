# cardmgr/engine/: the engine process (no rules here).
ENGINE_LIB := cardmgr/engine/engine.c cardmgr/engine/query.c cardmgr/engine/issue.c \
              cardmgr/engine/pinops.c cardmgr/engine/unblock.c cardmgr/engine/retire.c \
              cardmgr/engine/audit_log.c cardmgr/engine/calink.c cardmgr/engine/keyc.c \
              cardmgr/engine/seal.c cardmgr/engine/cardops.c cardmgr/engine/recover.c \
              cardmgr/engine/report.c cardmgr/engine/notices.c \
              cardmgr/engine/transition.c cardmgr/engine/suspend.c \
              cardmgr/engine/central.c cardmgr/engine/certrevoke.c \
              cardmgr/engine/backup_op.c cardmgr/inv/backup.c \
              cardmgr/engine/login.c cardmgr/engine/sessions.c \
              cardmgr/engine/replace.c cardmgr/engine/temp.c \
              cardmgr/engine/approve.c cardmgr/engine/apr_rec.c \
              cardmgr/engine/stock.c cardmgr/engine/stock_parse.c \
              cardmgr/engine/renew_req.c cardmgr/engine/renew_inv.c \
              cardmgr/engine/renew.c

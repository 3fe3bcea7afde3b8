# cardmgr/api/: the API process, as linked by cardmgrd and the test harness
# (no rules here). With $(PROC_LIB) and drivers/buf.c.
API_LIB   = cardmgr/api/api.c cardmgr/api/api_req.c cardmgr/api/api_session.c \
            cardmgr/api/api_static.c
API_LIBS  = -lmicrohttpd -ljansson -lsodium -lpthread $(PROC_LIBS)

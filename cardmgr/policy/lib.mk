# cardmgr/policy/: profiles, PIN/PUK rules, challenge answers, operator map.
POLICY_LIB := cardmgr/policy/pcfg.c cardmgr/policy/profile.c \
              cardmgr/policy/prof_check.c cardmgr/policy/pin.c \
              cardmgr/policy/answer.c cardmgr/policy/operators.c \
              cardmgr/policy/lifecycle.c cardmgr/policy/renew.c \
              drivers/buf.c
POLICY_LIBS := -lconfig -lsodium

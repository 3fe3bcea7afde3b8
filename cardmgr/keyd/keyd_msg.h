/*
 * The messages between the engine and keyd (the spec tables that decode
 * them are in proc/msg.c, next to the api's). Every request is answered by
 * one MSG_KS_RESP with the same id. keyd refuses a request type its permit
 * table does not list by exiting: the engine never has a reason to send one.
 */
#ifndef KEYD_MSG_H
#define KEYD_MSG_H

enum {
	MSG_KS_INFO = 16,	/* -> master and KRK versions in use */
	MSG_KS_MGMT_KEY = 17,	/* a card's diversified 9B key (set at issuance) */
	MSG_KS_MGMT_CRYPT = 18,	/* one 9B challenge block with a card's key */
	MSG_KS_PUK = 19,	/* a card's diversified PUK */
	MSG_KS_ESCROW = 20,	/* a fresh escrowed key and its blob */
	MSG_KS_SIGN = 21,	/* sign with a station key (CA link, audit) */
	MSG_KS_PUBKEY = 22,	/* the public half of a station key */
	MSG_KS_RESP = 23,	/* keyd -> engine: the answer */
	MSG_KS_RECOVER = 24,	/* decrypt an escrow blob (key recovery) */
	MSG_KS_MASTER_NEW = 25,	/* a new master key version -> its number */
	/*
	 * keyd -> its PKCS#11 helper (keyd/kh.h), the first message: load the
	 * module, log in, provision -> NUM master, NUM2 KRK version. After it
	 * keyd forwards the engine's MSG_KS_* requests that need the token.
	 */
	MSG_KS_P11H_OPEN = 26,
};

/* Request fields. */
enum {
	KS_F_VERSION = 1,	/* u32: master key version */
	KS_F_GUID = 2,		/* bytes[16]: card GUID */
	KS_F_ALG = 3,		/* u32: PIV_ALG_* or KS_KEY_* */
	KS_F_ENCRYPT = 4,	/* bool */
	KS_F_BLOCK = 5,		/* bytes[8|16] */
	KS_F_AAD = 6,		/* bytes <= 64 */
	KS_F_KEY = 7,		/* u32: which station key (enum keyd_key) */
	KS_F_MECH = 8,		/* u32: KS_MECH_* */
	KS_F_TBS = 9,		/* bytes <= 512 */
	KS_F_BLOB = 10,		/* bytes <= 4096 */
	/* MSG_KS_P11H_OPEN only */
	KS_F_MODULE = 11,	/* string: absolute path of the module */
	KS_F_TOKEN = 12,	/* string: token label */
	KS_F_PIN = 13,		/* bytes: the user PIN (wiped on both sides) */
	KS_F_STATION = 14,	/* string: label of the CA link's key */
	KS_F_AUDIT = 15,	/* string: label of the audit key */
};

/* Response fields. */
enum {
	KS_R_RC = 1,		/* u32: (uint32_t) of the ks_err */
	KS_R_DETAIL = 2,	/* string: why it failed, never key material */
	KS_R_DATA = 3,		/* bytes: the answer */
	KS_R_DATA2 = 4,		/* bytes: a second answer (escrow: the key) */
	KS_R_NUM = 5,		/* u32 */
	KS_R_NUM2 = 6,		/* u32 */
};

/* The station keys keyd signs with, by role: labels never cross the socket. */
enum keyd_key {
	KEYD_KEY_STATION = 1,	/* CA link: TLS client auth and CMP protection */
	KEYD_KEY_AUDIT = 2,	/* audit checkpoints */
};

#endif /* KEYD_MSG_H */

/*
 * vc_priv: the card's internal state, shared by vc_apdu.c (transport),
 * vc_piv.c (SP 800-73-4 commands), vc_yk.c (Yubico extensions) and
 * vc_store.c (state file). Not for use outside tests/vcard/.
 */
#ifndef VC_PRIV_H
#define VC_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "buf.h"
#include "vc_card.h"

#define VC_PIN_LEN	8
#define VC_OBJ_MAX	3063	/* largest data object a YubiKey 5 stores */
#define VC_NOBJS	48
#define VC_CMD_MAX	4096	/* command data after chaining */
#define VC_DATA_MAX	(VC_RESPONSE_MAX - 2)
#define VC_NSLOTS	25	/* 9A 9C 9D 9E, 82..95, F9 */
#define VC_DEFAULT_TRIES 3

/* Status words (ISO 7816-4 / SP 800-73-4). */
#define SW_OK			0x9000
#define SW_WRONG_LENGTH		0x6700
#define SW_SECURITY		0x6982
#define SW_BLOCKED		0x6983
#define SW_CONDITIONS		0x6985
#define SW_WRONG_DATA		0x6A80
#define SW_NOT_FOUND		0x6A82
#define SW_NO_SPACE		0x6A84
#define SW_WRONG_P1P2		0x6A86
#define SW_REF_NOT_FOUND	0x6A88
#define SW_INS			0x6D00
#define SW_CLA			0x6E00
#define SW_MEMORY		0x6581
#define SW_NO_INFO		0x6F00
#define SW_TRIES(n)		((uint16_t)(0x63C0 | ((n) > 15 ? 15 : (n))))

/* PIN and touch policies as Yubico encodes them (0 = slot default). */
#define VC_PIN_NEVER	1
#define VC_PIN_ONCE	2
#define VC_PIN_ALWAYS	3
#define VC_TOUCH_NEVER	1
#define VC_TOUCH_ALWAYS	2
#define VC_TOUCH_CACHED	3
#define VC_ORIGIN_GENERATED 1
#define VC_ORIGIN_IMPORTED  2

struct vc_key {
	uint8_t alg;		/* 0: slot empty */
	uint8_t pin_policy;	/* resolved: never defaults here */
	uint8_t touch_policy;
	uint8_t origin;
	EVP_PKEY *pkey;
};

struct vc_obj {
	uint32_t tag;		/* 0: unused */
	uint8_t *data;		/* value of the 53 (or 7E) template */
	size_t len;
};

/* What survives power-off: exactly what the state file holds. */
struct vc_state {
	uint32_t serial;
	uint8_t pin[VC_PIN_LEN], puk[VC_PIN_LEN];
	uint8_t pin_total, pin_left, puk_total, puk_left;
	uint8_t mgm_alg, mgm_touch;
	uint8_t mgm_key[32];
	size_t mgm_len;
	struct vc_key keys[VC_NSLOTS];
	struct vc_obj objs[VC_NOBJS];
};

enum vc_chal { VC_CHAL_NONE, VC_CHAL_WITNESS, VC_CHAL_EXTERNAL };

/* The selected application: PIV (the default after power on) or the YubiKey
 * management application (vc_yk.c), which answers only SELECT and READ CONFIG. */
enum vc_app { VC_APP_PIV, VC_APP_MGMT };

/* A parsed command APDU; data points into the caller's or the chain buffer. */
struct vc_cmd {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t lc;
	size_t le;		/* 0: absent */
	int ext;		/* extended length encoding */
};

struct vc_card {
	struct vc_state st;
	/* Volatile: cleared by vc_card_power. */
	enum vc_app app;
	int pin_ok;		/* PIN verified in this session */
	int pin_fresh;		/* a VERIFY since the last PIN-always key use */
	int mgm_ok;		/* 9B authenticated */
	enum vc_chal chal;
	uint8_t chal_buf[16];
	uint8_t chain_hdr[4];
	size_t chain_len;
	int chaining;
	uint8_t chain[VC_CMD_MAX];
	size_t rsp_len, rsp_off;	/* data waiting for GET RESPONSE */
	uint8_t rsp[VC_DATA_MAX];
	/* Set by handlers that changed vc_state; vc_card_process saves. */
	int dirty;
	char *path;
};

typedef uint16_t (*vc_handler)(struct vc_card *c, const struct vc_cmd *cmd,
    struct buf_writer *out);

/* vc_piv.c */
uint16_t vc_piv_select(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_piv_get_data(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_piv_put_data(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_piv_verify(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_piv_change_ref(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_piv_reset_retry(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_piv_general_auth(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_piv_generate(struct vc_card *, const struct vc_cmd *, struct buf_writer *);

/* vc_yk.c */
/* SELECT: the management AID here, anything else to vc_piv_select. */
uint16_t vc_yk_select(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
/* Every command but SELECT while the management application is selected. */
uint16_t vc_yk_mgmt(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_yk_version(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_yk_serial(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_yk_set_mgm(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_yk_import(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_yk_reset(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_yk_pin_retries(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_yk_attest(struct vc_card *, const struct vc_cmd *, struct buf_writer *);
uint16_t vc_yk_metadata(struct vc_card *, const struct vc_cmd *, struct buf_writer *);

/* Shared helpers (vc_piv.c). */
int vc_slot_index(uint8_t slot);
uint8_t vc_slot_ref(int idx);
uint8_t vc_slot_default_pin(uint8_t slot);
/* Tags a client may name: discovery, BIT, PIV objects, Yubico objects. */
int vc_obj_tag_valid(uint32_t tag);
struct vc_obj *vc_obj_find(struct vc_state *st, uint32_t tag);
/* Replace (len > 0) or delete (len == 0) an object. SW_OK or SW_NO_SPACE. */
uint16_t vc_obj_set(struct vc_state *st, uint32_t tag, const uint8_t *data, size_t len);
void vc_key_clear(struct vc_key *k);
/* Factory credentials, retry counters and management key. */
void vc_state_factory_creds(struct vc_state *st);
/* Factory PIN and PUK only (SET PIN RETRIES). */
void vc_state_factory_pins(struct vc_state *st);
/* 1 if the PIN (80), PUK (81) or management key (9B) still has its factory value. */
int vc_state_is_default(const struct vc_state *st, uint8_t ref);
/* Factory data objects: CHUID (fresh GUID), CCC, discovery. */
uint16_t vc_state_factory_objects(struct vc_state *st);
/* Drop every key but F9 and every object but the attestation certificate. */
void vc_state_wipe(struct vc_state *st);
void vc_state_free(struct vc_state *st);

/* vc_store.c */
int vc_store_write(const struct vc_state *st, uint8_t **data, size_t *len);
int vc_store_read(struct vc_state *st, const uint8_t *data, size_t len);

#define VC_TAG_ATTEST_CERT 0x5FFF01u

#endif /* VC_PRIV_H */

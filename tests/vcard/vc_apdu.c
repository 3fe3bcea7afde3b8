/*
 * vc_apdu: the card's transport layer. Parses short and extended APDUs
 * (ISO 7816-4 5.1), joins command chains (CLA bit 0x10), hands complete
 * commands to the PIV and Yubico handlers, and cuts long responses into
 * 61xx / GET RESPONSE pieces that honour Le.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "vc_priv.h"

#define CLA_CHAIN	0x10
#define INS_GET_RESPONSE 0xC0
#define INS_SELECT	0xA4
#define SHORT_MAX	256

/* A YubiKey 5.4.3 as far as the PIV application shows (PIV-NOTES: >= 5.3 F7). */
const uint8_t vc_card_version[3] = { 5, 4, 3 };

/*
 * T=1 only (TD1 = 81, TD2 = 31 with IFSC FE), historical bytes "VirtPIV"
 * after a compact-TLV header. Deliberately not a YubiKey ATR: OpenSC then
 * takes its generic PIV path (GET DATA 7E, SELECT), not the YubiKey quirks.
 */
static const uint8_t atr[] = {
	0x3B, 0x8C, 0x81, 0x31, 0xFE, 0x45, 0x80, 0x73, 0xC0, 0x21, 0xC0,
	'V', 'i', 'r', 't', 'P', 'I', 'V', 0x00,
};

static const struct {
	uint8_t ins;
	vc_handler fn;
} handlers[] = {
	{ INS_SELECT, vc_yk_select },
	{ 0xCB, vc_piv_get_data },
	{ 0xDB, vc_piv_put_data },
	{ 0x20, vc_piv_verify },
	{ 0x24, vc_piv_change_ref },
	{ 0x2C, vc_piv_reset_retry },
	{ 0x87, vc_piv_general_auth },
	{ 0x47, vc_piv_generate },
	{ 0xFD, vc_yk_version },
	{ 0xF8, vc_yk_serial },
	{ 0xFF, vc_yk_set_mgm },
	{ 0xFE, vc_yk_import },
	{ 0xFB, vc_yk_reset },
	{ 0xFA, vc_yk_pin_retries },
	{ 0xF9, vc_yk_attest },
	{ 0xF7, vc_yk_metadata },
};

const char *
vc_strerror(int err)
{
	switch (err) {
	case VC_OK:		return "success";
	case VC_ERR_NOMEM:	return "out of memory";
	case VC_ERR_CRYPTO:	return "card cryptography failed";
	case VC_ERR_IO:		return "state file I/O error";
	case VC_ERR_FORMAT:	return "state file malformed";
	case VC_ERR_NOSPACE:	return "response buffer too small";
	case VC_ERR_INVALID:	return "invalid argument";
	default:		return "unknown vc error";
	}
}

const uint8_t *
vc_card_atr(size_t *len)
{
	static uint8_t full[sizeof(atr)];
	size_t i;
	uint8_t tck = 0;

	/* TCK makes the XOR of T0..TCK zero (T=1 ATRs must carry it). */
	memcpy(full, atr, sizeof(atr));
	for (i = 1; i < sizeof(atr) - 1; i++)
		tck ^= atr[i];
	full[sizeof(atr) - 1] = tck;
	*len = sizeof(full);
	return full;
}

void
vc_card_power(struct vc_card *c)
{
	c->app = VC_APP_PIV;
	c->pin_ok = 0;
	c->pin_fresh = 0;
	c->mgm_ok = 0;
	c->chal = VC_CHAL_NONE;
	OPENSSL_cleanse(c->chal_buf, sizeof(c->chal_buf));
	c->chaining = 0;
	OPENSSL_cleanse(c->chain, c->chain_len);
	c->chain_len = 0;
	OPENSSL_cleanse(c->rsp, c->rsp_len);
	c->rsp_len = c->rsp_off = 0;
}

uint32_t
vc_card_serial(const struct vc_card *c)
{
	return c->st.serial;
}

/* Le field of `n` bytes: 0 means the maximum (256 or 65536). */
static size_t
le_value(const uint8_t *p, int n)
{
	size_t v = n == 1 ? p[0] : (size_t)p[0] << 8 | p[1];

	return v != 0 ? v : n == 1 ? SHORT_MAX : 65536;
}

/* ISO 7816-4 cases 1-4, short and extended. 0 on success, else an SW. */
static uint16_t
parse_apdu(const uint8_t *a, size_t len, struct vc_cmd *cmd)
{
	size_t lc;

	memset(cmd, 0, sizeof(*cmd));
	cmd->cla = a[0], cmd->ins = a[1], cmd->p1 = a[2], cmd->p2 = a[3];
	/* Never NULL: buf_reader_init(NULL, 0) trips UBSan's pointer checks. */
	cmd->data = a + len;
	if (len == 4)
		return 0;
	if (len == 5) {
		cmd->le = le_value(a + 4, 1);
		return 0;
	}
	if (a[4] != 0) {
		lc = a[4];
		if (len != 5 + lc && len != 6 + lc)
			return SW_WRONG_LENGTH;
		cmd->data = a + 5, cmd->lc = lc;
		cmd->le = len == 6 + lc ? le_value(a + 5 + lc, 1) : 0;
		return 0;
	}
	cmd->ext = 1;
	if (len < 7)	/* 00 then fewer than two length bytes */
		return SW_WRONG_LENGTH;
	if (len == 7) {
		cmd->le = le_value(a + 5, 2);
		return 0;
	}
	lc = (size_t)a[5] << 8 | a[6];
	if (lc == 0 || (len != 7 + lc && len != 9 + lc))
		return SW_WRONG_LENGTH;
	cmd->data = a + 7, cmd->lc = lc;
	cmd->le = len == 9 + lc ? le_value(a + 7 + lc, 2) : 0;
	return 0;
}

/* Most a response may carry before 61xx: Le, else 256 (short) or all (extended). */
static size_t
resp_limit(const struct vc_cmd *cmd)
{
	if (cmd->ext)
		return cmd->le != 0 ? cmd->le : VC_DATA_MAX;
	return cmd->le != 0 ? cmd->le : SHORT_MAX;
}

/* Move up to `limit` pending bytes into resp, then the SW (61xx if more wait). */
static size_t
emit(struct vc_card *c, size_t limit, uint16_t sw, uint8_t *resp)
{
	size_t left = c->rsp_len - c->rsp_off, n = left < limit ? left : limit;

	memcpy(resp, c->rsp + c->rsp_off, n);
	c->rsp_off += n;
	left -= n;
	if (left > 0)
		sw = (uint16_t)(0x6100 | (left >= SHORT_MAX ? 0 : left));
	else {
		OPENSSL_cleanse(c->rsp, c->rsp_len);
		c->rsp_len = c->rsp_off = 0;
	}
	resp[n] = (uint8_t)(sw >> 8);
	resp[n + 1] = (uint8_t)sw;
	return n + 2;
}

/* The PIV application's handler for cmd->ins, or NULL. */
static vc_handler
piv_handler(uint8_t ins)
{
	size_t i;

	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].ins == ins)
			return handlers[i].fn;
	return NULL;
}

static uint16_t
dispatch(struct vc_card *c, const struct vc_cmd *cmd)
{
	struct buf_writer w;
	vc_handler fn = piv_handler(cmd->ins);
	uint16_t sw = SW_INS;

	buf_writer_init(&w, c->rsp, sizeof(c->rsp));
	/* SELECT is shared; everything else belongs to the selected application. */
	if (c->app == VC_APP_MGMT && cmd->ins != INS_SELECT)
		fn = vc_yk_mgmt;
	if (fn != NULL)
		sw = fn(c, cmd, &w);
	if (buf_writer_error(&w) != BUF_OK)
		sw = SW_NO_INFO;
	c->rsp_len = (sw == SW_OK || (sw & 0xFF00) == 0x6200) &&
	    buf_writer_error(&w) == BUF_OK ? w.len : 0;
	c->rsp_off = 0;
	return sw;
}

/*
 * Chaining: collect the data of every block with CLA bit 0x10 (answering
 * 9000) and run the command when a block without it arrives. A block with a
 * different INS/P1/P2 abandons the chain. Returns 0 when `cmd` now holds the
 * complete command, else the SW to answer.
 */
static uint16_t
chain(struct vc_card *c, struct vc_cmd *cmd)
{
	const uint8_t hdr[4] = { 0, cmd->ins, cmd->p1, cmd->p2 };

	if (c->chaining && memcmp(c->chain_hdr + 1, hdr + 1, 3) != 0) {
		c->chaining = 0;
		OPENSSL_cleanse(c->chain, c->chain_len);
		c->chain_len = 0;
	}
	if (!(cmd->cla & CLA_CHAIN) && !c->chaining)
		return 0;
	if (cmd->lc > sizeof(c->chain) - c->chain_len) {
		c->chaining = 0;
		OPENSSL_cleanse(c->chain, c->chain_len);
		c->chain_len = 0;
		return SW_WRONG_LENGTH;
	}
	if (cmd->lc > 0)
		memcpy(c->chain + c->chain_len, cmd->data, cmd->lc);
	c->chain_len += cmd->lc;
	memcpy(c->chain_hdr, hdr, sizeof(hdr));
	c->chaining = 1;
	if (cmd->cla & CLA_CHAIN)
		return SW_OK;
	cmd->data = c->chain;
	cmd->lc = c->chain_len;
	return 0;
}

static void
chain_done(struct vc_card *c)
{
	if (c->chaining) {
		c->chaining = 0;
		OPENSSL_cleanse(c->chain, c->chain_len);
		c->chain_len = 0;
	}
}

static size_t
get_response(struct vc_card *c, const struct vc_cmd *cmd, uint8_t *resp)
{
	size_t le = cmd->le != 0 ? cmd->le : SHORT_MAX;

	if (cmd->p1 != 0 || cmd->p2 != 0 || cmd->lc != 0) {
		resp[0] = SW_WRONG_P1P2 >> 8, resp[1] = SW_WRONG_P1P2 & 0xFF;
		return 2;
	}
	if (c->rsp_len == c->rsp_off) {
		resp[0] = SW_CONDITIONS >> 8, resp[1] = SW_CONDITIONS & 0xFF;
		return 2;
	}
	return emit(c, cmd->ext ? le : (le < SHORT_MAX ? le : SHORT_MAX), SW_OK,
	    resp);
}

static size_t
sw_only(uint8_t *resp, uint16_t sw)
{
	resp[0] = (uint8_t)(sw >> 8);
	resp[1] = (uint8_t)sw;
	return 2;
}

/* One complete command through the handlers; the response goes to resp. */
static size_t
run(struct vc_card *c, struct vc_cmd *cmd, uint8_t *resp)
{
	uint16_t sw;

	if ((cmd->cla & ~CLA_CHAIN) != 0)
		return sw_only(resp, SW_CLA);
	if (cmd->ins == INS_GET_RESPONSE)
		return get_response(c, cmd, resp);
	/* Any other command abandons a response not fully fetched. */
	OPENSSL_cleanse(c->rsp, c->rsp_len);
	c->rsp_len = c->rsp_off = 0;
	if ((sw = chain(c, cmd)) != 0)
		return sw_only(resp, sw);
	sw = dispatch(c, cmd);
	chain_done(c);
	return emit(c, resp_limit(cmd), sw, resp);
}

int
vc_card_process(struct vc_card *c, const uint8_t *apdu, size_t len,
    uint8_t *resp, size_t cap, size_t *resp_len)
{
	struct vc_cmd cmd;
	uint16_t sw;
	int rc = VC_OK;

	*resp_len = 0;
	if (cap < VC_RESPONSE_MAX || apdu == NULL || len < 4)
		return VC_ERR_INVALID;
	if ((sw = parse_apdu(apdu, len, &cmd)) != 0) {
		*resp_len = sw_only(resp, sw);
		return VC_OK;
	}
	*resp_len = run(c, &cmd, resp);
	if (c->dirty) {
		c->dirty = 0;
		if (c->path != NULL && (rc = vc_card_save(c, c->path)) != VC_OK) {
			/* The change is not durable: say so rather than 9000. */
			OPENSSL_cleanse(resp, *resp_len);
			*resp_len = sw_only(resp, SW_MEMORY);
		}
	}
	return rc;
}

/*
 * cmp_seed: what fuzz_cmp_response and its seed recorder (cmp_record) agree
 * on, so that a response recorded from the test CA replays through
 * cardmgr/ca/ca.c and passes its checks.
 *
 * A seed (one fuzz input) is
 *   [0]      operation (value % CMP_SEED_NOPS)
 *   [1]      argument: rr reason (modulo 11); p10cr bit 0: send the CSR
 *            of another key (the issued certificate then is not for it);
 *            the recorder's p10cr bit 1: ask for an unknown profile
 *   [2..17]  transactionID the request carries (genm draws its own)
 *   then up to CMP_SEED_MAXMSG responses, each a 2-byte big-endian length
 *   and that many bytes of DER (the i-th answers the i-th request of the
 *   transaction: ip/cp/kup/rp/genp/error, then pkiconf after a certConf).
 *
 * The request's nonces are OpenSSL random bytes: both programs replace
 * OpenSSL's generator by a fixed pattern (cmp_seed_fixed_rand), so the
 * recorded recipNonce matches the fuzzer's senderNonce and the CA's
 * signature over it stays valid. Never in the station.
 */
#ifndef CMP_SEED_H
#define CMP_SEED_H

#include <stddef.h>
#include <stdint.h>

enum cmp_seed_op {
	CMP_SEED_IR = 0,	/* ca_enroll_station (MAC-protected) */
	CMP_SEED_P10CR = 1,	/* ca_enroll_p10 */
	CMP_SEED_KUR = 2,	/* ca_renew_station */
	CMP_SEED_RR = 3,	/* ca_revoke */
	CMP_SEED_GENM = 4,	/* ca_get_cacerts */
	CMP_SEED_NOPS = 5,
};

#define CMP_SEED_HDR 18		/* op, arg, transactionID */
#define CMP_SEED_MAXMSG 6
#define CMP_SEED_MAX 16384	/* a whole seed */

/* The one-time secret reference and value of the recorded ir. */
#define CMP_SEED_REF "fuzz-01"
#define CMP_SEED_SECRET "fuzz-secret-01"
#define CMP_SEED_SUBJECT "/O=Test/CN=fuzz-station"
#define CMP_SEED_PROFILE "piv-auth"

/* OpenSSL's random bytes become a fixed pattern, for this process. */
int cmp_seed_fixed_rand(void);

#endif /* CMP_SEED_H */

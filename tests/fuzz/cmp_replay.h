/*
 * cmp_replay: run one seed (the format is in cmp_seed.h) through
 * cardmgr/ca/ca.c: the responses come from the seed through the link's
 * transfer callback; the link has the trust anchors, intermediates,
 * expected sender and station identity the seeds were recorded with
 * (fuzz_cmp_response_pki.h), and checks certificates at the recording's
 * time, so the seeds do not expire. Used by fuzz_cmp_response and
 * test_cmp_replay. Test code: it pins OpenSSL's randomness (cmp_seed.c).
 */
#ifndef CMP_REPLAY_H
#define CMP_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"

/* What one replay produced; release with cmp_replay_clear(). */
struct cmp_replay {
	int op;			/* enum cmp_seed_op */
	int arg;
	struct ca_result res;
	STACK_OF(X509) *certs;	/* genm: the caCerts, on CA_OK */
	const uint8_t *csr;	/* p10cr: the CSR that was sent */
	size_t csr_len;
};

#define CMP_REPLAY_SHORT 1	/* input shorter than a seed's header */

/*
 * Run the seed data[size]. Returns what the ca_* call returned, or
 * CMP_REPLAY_SHORT (nothing run). Aborts if the link cannot be set up.
 */
int cmp_replay_run(const uint8_t *data, size_t size, struct cmp_replay *out);
void cmp_replay_clear(struct cmp_replay *out);

/* The link (created at the first run), for ca_verify_cert. */
struct ca_link *cmp_replay_link(void);

#endif /* CMP_REPLAY_H */

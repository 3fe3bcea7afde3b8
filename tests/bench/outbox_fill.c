/*
 * outbox_fill: journal N enrollments of one CSR in the daemon's CA journal
 * (the outbox inside the inventory's LMDB environment, where cardmgrd keeps
 * it), with the daemon stopped, for the drain bench (tests/bench_drain.sh).
 * They are no card's: the daemon's fold leaves their certificates alone.
 *
 *   outbox_fill INV_DIR N CSR_DER PROFILE   -> "journaled N"
 *
 * One write transaction for all of them: the bench measures the drain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <lmdb.h>

#include "../../cardmgr/ca/outbox.h"
#include "../../cardmgr/inv/inv.h"

int
main(int argc, char **argv)
{
	static unsigned char csr[16384];
	struct outbox *ob = NULL;
	struct inv *inv = NULL;
	MDB_txn *txn = NULL;
	uint64_t id;
	size_t len;
	FILE *f;
	long i, n;
	int rc = 1;

	if (argc != 5 || (n = strtol(argv[2], NULL, 10)) < 1 || n > 1000000) {
		fprintf(stderr, "usage: outbox_fill INV_DIR N CSR_DER PROFILE\n");
		return 2;
	}
	if ((f = fopen(argv[3], "rb")) == NULL) {
		perror(argv[3]);
		return 1;
	}
	len = fread(csr, 1, sizeof(csr), f);
	fclose(f);
	if (len == 0 || len == sizeof(csr)) {
		fprintf(stderr, "outbox_fill: %s: empty or too large\n", argv[3]);
		return 1;
	}
	if (inv_open(argv[1], 0, &inv) != INV_OK ||
	    outbox_open_env(inv_env(inv), &ob) != OUTBOX_OK ||
	    mdb_txn_begin(inv_env(inv), NULL, 0, &txn) != 0) {
		fprintf(stderr, "outbox_fill: cannot open the journal in %s\n",
		    argv[1]);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (outbox_add_txn(ob, txn, OUTBOX_ENROLL, argv[4], 0, csr, len,
		    (uint64_t)time(NULL), &id) != OUTBOX_OK) {
			fprintf(stderr, "outbox_fill: journal full at %ld\n", i);
			goto out;
		}
	rc = mdb_txn_commit(txn) == 0 ? 0 : 1;
	txn = NULL;
	if (rc == 0)
		printf("journaled %ld\n", n);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	outbox_close(ob);
	inv_close(inv);
	return rc;
}

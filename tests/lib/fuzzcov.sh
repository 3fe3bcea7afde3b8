# fuzzcov.sh: how much of the project's own code a libFuzzer harness reaches
# (sourced by tests/run.sh for the corpus replay and by tests/fuzz.sh).
#
#   fuzzcov_replay FUZZER DIR...   replay the inputs once (-runs=0) with
#       libFuzzer's -print_coverage=1; the fuzzer's output, minus the
#       per-function coverage lines, on stdout; its exit status. The figures
#       go to $FUZZCOV_OUT (a file the caller names) as one line:
#         EDGES TOTAL FUNCS_HIT FUNCS TOPFILE TOP_EDGES TOP_TOTAL
#       EDGES: sanitizer-coverage edges (libFuzzer's "cov" unit) the inputs
#       reach in functions defined in the project's own files (under $TOP;
#       the harnesses in tests/fuzz/ and OpenSSL, libc, ... do not count);
#       TOTAL: the edges of all such functions linked into the harness;
#       TOPFILE: the project file with the most edges reached.
#   fuzzcov_blind EDGES   true if a harness reaching EDGES is blind
#
# A harness is blind below FUZZ_MIN_EDGES (default 20) edges: the smallest
# real targets in the tree (the ATR parser, the escrow blob decoder, the
# caCerts parser) are reached with 25 to 30 edges by their seeds, while a
# harness that only exercises uninstrumented library code or its own code
# reaches none (fuzz_cmp_response before issue 11: 0).
FUZZ_MIN_EDGES=${FUZZ_MIN_EDGES:-20}

fuzzcov_summary() {	# top: print_coverage output on stdin, the figures out
	awk -v top="$1/" '
	/^(COVERED|UNCOVERED)_FUNC:/ {
		seen = 1
		split($5, e, "/"); file = $NF; sub(/:[0-9]+$/, "", file)
		if (index(file, top) != 1) next
		rel = substr(file, length(top) + 1)
		if (rel ~ /^tests\/fuzz\//) next
		cov += e[1]; tot += e[2]; nf++; if (e[1] > 0) hf++
		fc[rel] += e[1]; ft[rel] += e[2]
	}
	END {
		if (!seen) { print "0 0 0 0 (no-coverage-output) 0 0"; exit }
		best = "-"
		for (f in fc) if (fc[f] > fc[best] + 0) best = f
		printf "%d %d %d %d %s %d %d\n", cov, tot, hf, nf, best,
		    fc[best], ft[best]
	}'
}

fuzzcov_replay() {	# fuzzer dir...
	local fz=$1 tmp rc
	shift
	tmp=$(mktemp)
	"$fz" -runs=0 -print_coverage=1 "$@" >"$tmp" 2>&1
	rc=$?
	grep -vE '^(COVERED_FUNC|UNCOVERED_FUNC|  UNCOVERED_PC):' "$tmp"
	fuzzcov_summary "$TOP" <"$tmp" >"${FUZZCOV_OUT:?}"
	rm -f "$tmp"
	return $rc
}

fuzzcov_blind() {	# edges
	[ "$1" -lt "$FUZZ_MIN_EDGES" ]
}

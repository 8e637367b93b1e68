# shellcheck shell=bash disable=SC2034
# bench/lib.sh - sourced by the bench scripts: where the tools and the
# corpus are, a temporary directory, and the timing helpers.
#
#   Z4_CORPUS  the corpus directory (default ../shared/corpus/data)
#   REPEAT     measurements per figure, the best one counts (default 3)
#   MIN_SEC    the shortest a measurement may be: a fast command is run
#              as many times in a row as it takes (default 0.3)

shopt -s inherit_errexit
top=$(cd "$(dirname "$0")/.." && pwd)
data=${Z4_CORPUS:-$top/../shared/corpus/data}
z4ai=$top/bin/z4ai
repeat=${REPEAT:-3}
min_ns=$(awk -v s="${MIN_SEC:-0.3}" 'BEGIN { printf "%d", s * 1e9 }')

# Exit quietly (status 0) when there is no corpus to measure.
need_corpus() {
	if [ ! -d "$data" ]; then
		echo "bench: $data is absent; nothing to measure"
		exit 0
	fi
}

# A temporary directory in $tmp, removed on exit.
make_tmp() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/z4bench.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 130' INT TERM HUP
}

# Take a copy of bin/z4ai into $tmp, so that a rebuild during the run
# does not change the program measured.  After make_tmp.
need_z4ai() {
	if [ ! -x "$z4ai" ]; then
		echo "bench: $z4ai is missing; run make first" >&2
		exit 2
	fi
	cp "$z4ai" "$tmp/z4ai"
	z4ai=$tmp/z4ai
}

now() { date +%s%N; }

# runs K CMD...: nanoseconds K runs of CMD take, output to /dev/null.
runs() {
	local k=$1 t0 t1
	shift
	t0=$(now)
	for _ in $(seq "$k"); do "$@" >/dev/null || return; done
	t1=$(now)
	echo $((t1 - t0))
}

# runs_needed CMD...: how many runs of CMD in a row make a measurement: the
# smallest power of two (or estimate) making it last at least $min_ns.
# The runs that find it also warm the page cache.
runs_needed() {
	local k=1 t
	while :; do
		t=$(runs "$k" "$@") || return
		[ "$t" -lt "$min_ns" ] || break
		if [ "$t" -gt 0 ] && [ $((5 * min_ns * k / (4 * t))) -gt $((2 * k)) ]
		then k=$((5 * min_ns * k / (4 * t))); else k=$((2 * k)); fi
	done
	echo "$k"
}

# best CMD...: nanoseconds per run of CMD, the fastest of $repeat
# measurements of runs_needed(CMD) runs each.
best() {
	local k t b=0
	k=$(runs_needed "$@") || return
	for _ in $(seq "$repeat"); do
		t=$(runs "$k" "$@") || return
		t=$((t / k))
		if [ "$b" -eq 0 ] || [ "$t" -lt "$b" ]; then b=$t; fi
	done
	echo "$b"
}

# best_pair: best of the commands in the arrays A and B, measured in
# turn, so that a machine shared with other work slows both alike;
# sets best_a and best_b, in nanoseconds per run.
best_pair() {
	local ka kb t
	ka=$(runs_needed "${A[@]}") || return
	kb=$(runs_needed "${B[@]}") || return
	best_a=0 best_b=0
	for _ in $(seq "$repeat"); do
		t=$(runs "$ka" "${A[@]}") || return
		t=$((t / ka))
		if [ "$best_a" -eq 0 ] || [ "$t" -lt "$best_a" ]; then best_a=$t; fi
		t=$(runs "$kb" "${B[@]}") || return
		t=$((t / kb))
		if [ "$best_b" -eq 0 ] || [ "$t" -lt "$best_b" ]; then best_b=$t; fi
	done
}

# mbs BYTES NS: 10^6 bytes per second (2 decimals below 10).  ratio A B: A / B.
mbs() {
	awk -v n="$1" -v t="$2" 'BEGIN { v = n / (t / 1e9) / 1e6
		printf v < 10 ? "%.2f" : "%.0f", v }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# rule SPEC...: the markdown line under a table head, one SPEC a column:
# lN for a left-aligned column N wide, rN for a right-aligned one.
rule() {
	local c w
	for c in "$@"; do
		w=${c#?}
		printf '|%s' "$(printf -- '-%.0s' $(seq $((w + 1))))"
		if [ "${c%"$w"}" = r ]; then printf ':'; else printf -- '-'; fi
	done
	printf '|\n'
}

# meets BYTES PACKED TARGET: succeeds when BYTES / PACKED >= TARGET.
meets() { awk -v n="$1" -v z="$2" -v t="$3" 'BEGIN { exit !(n / z >= t) }'; }

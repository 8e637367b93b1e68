#!/usr/bin/env bash
# Ratio and speed on every file of ../shared/corpus/data: z4ai beside
# zstd -3 on the same bytes, in one run.  Speeds are MB/s (10^6 bytes of
# original per second), best of $REPEAT runs, files in the page cache.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
data=${Z4_CORPUS:-$top/../shared/corpus/data}
repeat=${REPEAT:-3}
z4ai=$top/bin/z4ai

if [ ! -d "$data" ]; then
	echo "bench: $data is absent; nothing to measure"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now() { date +%s%N; }

# best NS CMD...: fastest of $repeat runs of CMD, in nanoseconds.
best() {
	local b=0 t0 t1
	for _ in $(seq "$repeat"); do
		t0=$(now); "$@" >/dev/null; t1=$(now)
		if [ "$b" -eq 0 ] || [ $((t1 - t0)) -lt "$b" ]; then
			b=$((t1 - t0)); fi
	done
	echo "$b"
}

mbs() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / (t / 1e9) / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

printf '| %-52s | %9s | %7s | %7s | %7s | %7s | %7s | %7s |\n' file bytes \
	z4ai 'c MB/s' 'd MB/s' 'zstd-3' 'c MB/s' 'd MB/s'
printf '|%s|%s:|%s:|%s:|%s:|%s:|%s:|%s:|\n' "$(printf -- '-%.0s' {1..54})" \
	----------- -------- -------- -------- -------- -------- --------
tot=0 totz=0 totzs=0
for f in "$data"/*; do
	[ -f "$f" ] && [ -s "$f" ] || continue
	n=$(stat -c %s "$f")
	"$z4ai" compress -q -c "$f" > "$tmp/a.z4"
	zstd -q -3 -c "$f" > "$tmp/a.zst"
	z=$(stat -c %s "$tmp/a.z4")
	zs=$(stat -c %s "$tmp/a.zst")
	tc=$(best "$z4ai" compress -q -c "$f")
	td=$(best "$z4ai" decompress -q -c "$tmp/a.z4")
	zc=$(best zstd -q -3 -c "$f")
	zd=$(best zstd -q -d -c "$tmp/a.zst")
	printf '| %-52s | %9d | %7s | %7s | %7s | %7s | %7s | %7s |\n' \
		"$(basename "$f")" "$n" "$(ratio "$n" "$z")" "$(mbs "$n" "$tc")" \
		"$(mbs "$n" "$td")" "$(ratio "$n" "$zs")" "$(mbs "$n" "$zc")" \
		"$(mbs "$n" "$zd")"
	tot=$((tot + n)) totz=$((totz + z)) totzs=$((totzs + zs))
done
printf '| %-52s | %9d | %7s | %7s | %7s | %7s | %7s | %7s |\n' all "$tot" \
	"$(ratio "$tot" "$totz")" "" "" "$(ratio "$tot" "$totzs")" "" ""

#!/usr/bin/env bash
# Ratio and speed on every file of ../shared/corpus/data: z4ai beside
# zstd -3 on the same bytes, in one run.  Speeds are MB/s (10^6 bytes of
# original per second), files in the page cache, output to /dev/null: each
# measurement repeats the command until it lasts at least $MIN_SEC (0.3 s),
# and the best of $REPEAT (3) measurements counts.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need_corpus
make_tmp
need_z4ai

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

#!/usr/bin/env bash
# shellcheck disable=SC2059 # the format is in $fmt
# Speed and memory on large synthetic checkpoints made by bench/gen (the
# values are Gaussian, so the ratios say little; bench/redundancy.sh has
# the ratios of real files): a BIG_MIB (512) MiB bf16 and f32 safetensors
# file each, z4ai beside zstd, single machine.
#
#   MB/s     original bytes (10^6) per second, input in the page cache,
#            output to /dev/null, best of $REPEAT (3) runs; z4ai -T1 and
#            the zstd command it is compared with are timed in turn, so
#            that other work on the machine slows both alike
#   ratio    original / compressed (for decompression: of the input frame)
#   vs zstd  speed over that of zstd -3 -T1 (compression) or of
#            zstd -d -T1 on zstd -3's output (decompression)
#   RSS      peak resident set of the first run, /usr/bin/time -f %M, KiB
#
# z4ai -9 compresses more slowly than the rest, so it is timed once, on a
# NINE_MIB (128) MiB file of its own, and its output decoded best of
# $REPEAT; their "vs zstd" compares them with zstd -3 and zstd -d, best
# of $REPEAT, on that same file.  On a file much smaller, starting the
# process and its threads weighs on the decoding times.
# Then dense f16 and each redundancy path (bench/gen's int4, int8row,
# g64, prune50, fp8 and mxfp4) on a PATHS_MIB (64) MiB file, beside zstd -3
# and zstd -d, a SMALL_MIB (16) MiB file of tensors of 1 KiB each, and
# a U8_MIB (8) MiB file of U8 layers of 128 KiB.
# The last rows give the peak RSS of z4ai on a
# 4 * BIG_MIB MiB bf16 file, one run each, to show whether memory grows
# with the input.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
make_tmp
need_z4ai
big=${BIG_MIB:-512}
nine=${NINE_MIB:-128}
[ "$nine" -le "$big" ] || nine=$big
huge=$((4 * big))
gen=$top/bench/gen
make -s -C "$top" bench/gen >/dev/null

fmt='| %-14s | %-38s | %6s | %6s | %7s | %9s |\n'
printf "$fmt" input command MB/s ratio 'vs zstd' 'RSS KiB'
rule l14 l38 r6 r6 r7 r9

# once OUT CMD...: run CMD once, output to OUT; sets ns (time), rss, sz.
once() {
	local out=$1 t0 t1
	shift
	t0=$(now)
	/usr/bin/time -f %M -o "$tmp/rss" "$@" > "$out"
	t1=$(now)
	ns=$((t1 - t0)) rss=$(tail -n 1 "$tmp/rss") sz=$(stat -c %s "$out")
}

# measure_pair KEY_A OUT_A KEY_B OUT_B: measure for the commands in the
# arrays A and B, timed in turn (best_pair).
measure_pair() {
	once "$2" "${A[@]}"
	SZ[$1]=$sz RSS[$1]=$rss
	once "$4" "${B[@]}"
	SZ[$3]=$sz RSS[$3]=$rss
	best_pair
	NS[$1]=$best_a NS[$3]=$best_b
}

# measure KEY OUT CMD...: once, then best; sets SZ[KEY], RSS[KEY], NS[KEY].
declare -A SZ RSS NS
measure() {
	local key=$1 out=$2 t
	shift 2
	once "$out" "$@"
	t=$(best "$@")
	SZ[$key]=$sz RSS[$key]=$rss NS[$key]=$t
}

# row INPUT LABEL BYTES NS RATIO NS_REF RSS: one line; NS, NS_REF may be -.
row() {
	local s=- v=-
	if [ "$4" != - ]; then
		s=$(mbs "$3" "$4")
		[ "$6" = - ] || v=$(ratio "$6" "$4")
	fi
	printf "$fmt" "$1" "$2" "$s" "$5" "$v" "$7"
}

# line LABEL KEY PACKED REF: the row of measurement KEY on $name ($n
# bytes), the ratio from the size of measurement PACKED, speed against REF.
line() {
	row "$name" "$1" "$n" "${NS[$2]}" "$(ratio "$n" "${SZ[$3]}")" \
		"${NS[$4]}" "${RSS[$2]}"
}

for dt in bf16 f32; do
	in=$tmp/$dt.safetensors
	"$gen" "$dt" "$big" > "$in"
	n=$(stat -c %s "$in")
	cat "$in" > /dev/null
	measure z1 "$tmp/o" zstd -q -1 -T1 -c "$in"
	# The figures the targets compare, each pair timed in turn.
	A=(zstd -q -3 -T1 -c "$in") B=("$z4ai" compress -q -c -T1 "$in")
	measure_pair z3 "$tmp/z3.zst" c1 "$tmp/c1.z4"
	measure c2 "$tmp/o" "$z4ai" compress -q -c -T2 "$in"
	A=(zstd -q -d -T1 -c "$tmp/z3.zst")
	B=("$z4ai" decompress -q -c -T1 "$tmp/c1.z4")
	measure_pair zd "$tmp/o" d1 "$tmp/o"
	measure d2 "$tmp/o" "$z4ai" decompress -q -c -T2 "$tmp/c1.z4"
	cmp -s "$tmp/o" "$in" || echo "bench: z4ai did not give $in back" >&2
	rm -f "$tmp/o" "$in"

	"$gen" "$dt" "$nine" > "$tmp/small"
	once "$tmp/c9.z4" "$z4ai" compress -q -c -9 -T1 "$tmp/small"
	n9=$(stat -c %s "$tmp/small") ns9=$ns sz9=$sz rss9=$rss
	# zstd on the same small file, so fixed costs weigh alike.
	measure z3s "$tmp/z3s.zst" zstd -q -3 -T1 -c "$tmp/small"
	A=(zstd -q -d -T1 -c "$tmp/z3s.zst")
	B=("$z4ai" decompress -q -c -T1 "$tmp/c9.z4")
	measure_pair zds "$tmp/o" d9 "$tmp/o"
	cmp -s "$tmp/o" "$tmp/small" ||
		echo "bench: z4ai -9 did not give $dt back" >&2
	rm -f "$tmp/o" "$tmp/small"
	z3s=${NS[z3s]} zds=${NS[zds]}

	name="$dt $big MiB"
	line 'z4ai compress -T1' c1 c1 z3
	line 'z4ai compress -T2' c2 c2 z3
	row "$dt $nine MiB" 'z4ai compress -9 -T1 (1 run)' "$n9" "$ns9" \
		"$(ratio "$n9" "$sz9")" "$z3s" "$rss9"
	row "$dt $nine MiB" 'z4ai decompress -T1 (of -9)' "$n9" "${NS[d9]}" \
		"$(ratio "$n9" "$sz9")" "$zds" "${RSS[d9]}"
	line 'zstd -1 -T1' z1 z1 z3
	line 'zstd -3 -T1' z3 z3 z3
	line 'z4ai decompress -T1' d1 c1 zd
	line 'z4ai decompress -T2' d2 c1 zd
	line 'zstd -d -T1 (of zstd -3)' zd z3 zd
	rm -f "$tmp"/*.z4 "$tmp"/*.zst
done

# default_rows KIND MIB: a generated file of KIND, z4ai at the default
# level beside zstd -3 and zstd -d.
default_rows() {
	local kind=$1 mib=$2
	in=$tmp/$kind.safetensors
	"$gen" "$kind" "$mib" > "$in"
	n=$(stat -c %s "$in")
	A=(zstd -q -3 -T1 -c "$in") B=("$z4ai" compress -q -c -T1 "$in")
	measure_pair z3 "$tmp/z3.zst" c1 "$tmp/c1.z4"
	A=(zstd -q -d -T1 -c "$tmp/z3.zst")
	B=("$z4ai" decompress -q -c -T1 "$tmp/c1.z4")
	measure_pair zd "$tmp/o" d1 "$tmp/o"
	cmp -s "$tmp/o" "$in" || echo "bench: z4ai did not give $kind back" >&2
	name="$kind $mib MiB"
	line 'z4ai compress -T1' c1 c1 z3
	line 'z4ai decompress -T1' d1 c1 zd
	line 'zstd -3 -T1' z3 z3 z3
	rm -f "$tmp/o" "$in" "$tmp"/*.z4 "$tmp"/*.zst
}

# Dense f16, and the redundancy paths on synthetic files of PATHS_MIB
# (64) MiB each: quantised weights dequantised into wide types (palette
# and grid) and pruned ones (the zero mask).
for kind in f16 int4 int8row g64 prune50 fp8 mxfp4; do
	default_rows "$kind" "${PATHS_MIB:-64}"
done

# Very many small tensors, 1 KiB each, SMALL_MIB (16) MiB of them: what
# a frame costs beyond its bytes, against zstd, which sees one stream.
default_rows small "${SMALL_MIB:-16}"

# U8 quantised layers of 128 KiB, U8_MIB (8) MiB of them: BYTE-MODEL,
# which models each value in context, a binary decision at a time.
default_rows u8 "${U8_MIB:-8}"

# Memory on an input four times as large: one run each.
in=$tmp/huge.safetensors
"$gen" bf16 "$huge" > "$in"
n=$(stat -c %s "$in")
name="bf16 $huge MiB"
once "$tmp/c.z4" "$z4ai" compress -q -c -T2 "$in"
row "$name" 'z4ai compress -T2 (1 run, RSS only)' "$n" - \
	"$(ratio "$n" "$sz")" - "$rss"
once "$tmp/c.z4" "$z4ai" compress -q -c -T1 "$in"
row "$name" 'z4ai compress -T1 (1 run, RSS only)' "$n" - \
	"$(ratio "$n" "$sz")" - "$rss"
rm -f "$in"
z=$(stat -c %s "$tmp/c.z4")
once /dev/null "$z4ai" decompress -q -c -T1 "$tmp/c.z4"
row "$name" 'z4ai decompress -T1 (1 run, RSS only)' "$n" - \
	"$(ratio "$n" "$z")" - "$rss"
rm -f "$tmp/c.z4"

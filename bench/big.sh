#!/usr/bin/env bash
# A round trip of an input past 4 GiB, one tensor larger than 4 GiB:
# exact, and peak memory (RSS) independent of the input's size.  Not for
# CI: it writes about twice the input to a temporary directory.
# BIG_MIB sets the size (default 4608, 4.5 GiB).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mib=${BIG_MIB:-4608}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/z4big.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cc -O2 -o "$tmp/bigtensor" "$top/bench/bigtensor.c"
"$tmp/bigtensor" "$mib" > "$tmp/big.safetensors"
in=$(stat -c %s "$tmp/big.safetensors")
/usr/bin/time -f '%e %M' -o "$tmp/tc" \
	"$top/bin/z4ai" compress -q -c "$tmp/big.safetensors" > "$tmp/big.z4"
/usr/bin/time -f '%e %M' -o "$tmp/td" sh -c \
	"'$top/bin/z4ai' decompress -q -c '$tmp/big.z4' | cmp - '$tmp/big.safetensors'"
out=$(stat -c %s "$tmp/big.z4")
read -r tc mc < "$tmp/tc"
read -r td md < "$tmp/td"
printf '| input bytes | z4 bytes | ratio | compress s | peak KiB | decompress+cmp s | peak KiB | exact |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|---|\n'
printf '| %d | %d | %.3f | %s | %s | %s | %s | yes |\n' "$in" "$out" \
	"$(echo "$in / $out" | bc -l)" "$tc" "$mc" "$td" "$md"

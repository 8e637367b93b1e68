#!/usr/bin/env bash
# shellcheck disable=SC2059 # the format is in $fmt
# Checkpoint deltas on pairs of corpus files (REF -> TARGET): the ratio
# TARGET bytes / delta bytes of `z4ai compress -r REF TARGET`, and of the
# same at -1, beside `zstd --patch-from=REF -19 --long=27` and intra
# coding (`z4ai compress TARGET`), the target ratio where there is one
# ("met" or "short"), and the speed of the delta in MB/s of TARGET bytes
# (compress -r, decompress -r), timed as in corpus.sh.  Every delta is
# decoded and compared with cmp: "ok" or FAIL.
#
# Then speed on a pair large enough to time, which bench/gen makes
# (bf16 and bf16next, PAIR_MIB (64) MiB, a step like 20 of the corpus's
# pre-training run): z4ai -r at the default level and at -1, one
# thread, beside zstd --patch-from at -3, in MB/s of the target.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need_corpus
make_tmp
need_z4ai

fmt='| %-30s | %-34s | %7s | %7s | %7s | %7s | %7s | %6s | %-6s | %6s '
fmt+='| %6s | %-4s |\n'
printf "$fmt" REF TARGET bytes 'z4ai -r' '-1 -r' 'zstd pf' 'z4ai' target \
	status 'c MB/s' 'd MB/s' cmp
rule l30 l34 r7 r7 r7 r7 r7 r6 l6 r6 r6 l4

# pair REF TARGET GOAL: one line; GOAL may be -.  Names without the
# .safetensors suffix.
pair() {
	local r=$data/$1.safetensors f=$data/$2.safetensors goal=$3
	local n z z1 zp zi st=- ok=ok tc td
	n=$(stat -c %s "$f")
	"$z4ai" compress -q -c -r "$r" "$f" > "$tmp/d.z4"
	z=$(stat -c %s "$tmp/d.z4")
	"$z4ai" compress -q -1 -c -r "$r" "$f" > "$tmp/d1.z4"
	z1=$(stat -c %s "$tmp/d1.z4")
	"$z4ai" decompress -q -c -r "$r" "$tmp/d1.z4" | cmp -s - "$f" || ok=FAIL
	zp=$(zstd -qq --patch-from="$r" -19 --long=27 -c "$f" | wc -c)
	zi=$("$z4ai" compress -q -c "$f" | wc -c)
	"$z4ai" decompress -q -c -r "$r" "$tmp/d.z4" | cmp -s - "$f" || ok=FAIL
	if [ "$goal" != - ]; then
		st=met
		meets "$n" "$z" "$goal" || st=short
	fi
	tc=$(best "$z4ai" compress -q -c -r "$r" "$f")
	td=$(best "$z4ai" decompress -q -c -r "$r" "$tmp/d.z4")
	printf "$fmt" "$1" "$2" "$n" "$(ratio "$n" "$z")" "$(ratio "$n" "$z1")" \
		"$(ratio "$n" "$zp")" "$(ratio "$n" "$zi")" "$goal" "$st" \
		"$(mbs "$n" "$tc")" "$(mbs "$n" "$td")" "$ok"
}

pair gpt_base_step200_bf16 gpt_base_step220_bf16 -
pair gpt_base_step220_bf16 gpt_base_step240_bf16 -
pair gpt_base_step240_bf16 gpt_base_step260_bf16 -
pair gpt_base_step260_bf16 gpt_base_step280_bf16 -
pair gpt_base_step280_bf16 gpt_base_step300_bf16 1.97
pair gpt_base_step200_f32 gpt_base_step220_f32 1.33
pair gpt_sft_lr2e-5_step10_bf16 gpt_sft_lr2e-5_step20_bf16 3.45
pair gpt_sft_lr2e-5_step10_f32 gpt_sft_lr2e-5_step20_f32 1.56
pair gpt_sft_lr2e-5_step40_bf16 gpt_rl_lr1e-6_step1_bf16 40
pair gpt_rl_lr1e-6_step1_bf16 gpt_rl_lr1e-6_step2_bf16 50
pair gpt_rl_lr1e-6_step2_bf16 gpt_rl_lr1e-6_step3_bf16 58
pair gpt_base_step300_bf16 gpt_ft_lora_manpages_bf16 5.25
pair gpt_base_step300_bf16 gpt_ft_frozenemb_changelog_bf16 2.00
pair gpt_base_step300_bf16 gpt_ft_full_python_bf16 -

mib=${PAIR_MIB:-64}
make -s -C "$top" bench/gen >/dev/null
"$top/bench/gen" bf16 "$mib" > "$tmp/ref.st"
"$top/bench/gen" bf16next "$mib" > "$tmp/new.st"
n=$(stat -c %s "$tmp/new.st")
echo
sfmt='| %-44s | %6s | %6s | %6s |\n'
printf "$sfmt" "generated pair, $mib MiB of BF16, one thread" ratio \
	'c MB/s' 'd MB/s'
rule l44 r6 r6 r6

# speed NAME OUT COMPRESS... -- DECOMPRESS...: one line; OUT is the file
# COMPRESS writes, which DECOMPRESS reads.
speed() {
	local name=$1 out=$2 c=() tc td
	shift 2
	while [ "$1" != -- ]; do c+=("$1"); shift; done
	shift
	"${c[@]}" > "$out"
	"$@" | cmp -s - "$tmp/new.st" || name="$name FAIL"
	tc=$(best "${c[@]}")
	td=$(best "$@")
	printf "$sfmt" "$name" "$(ratio "$n" "$(stat -c %s "$out")")" \
		"$(mbs "$n" "$tc")" "$(mbs "$n" "$td")"
}

r=$tmp/ref.st
speed 'z4ai -r (default level)' "$tmp/g.z4" \
	"$z4ai" compress -q -c -T1 -r "$r" "$tmp/new.st" -- \
	"$z4ai" decompress -q -c -T1 -r "$r" "$tmp/g.z4"
speed 'z4ai -1 -r' "$tmp/g1.z4" \
	"$z4ai" compress -q -1 -c -T1 -r "$r" "$tmp/new.st" -- \
	"$z4ai" decompress -q -c -T1 -r "$r" "$tmp/g1.z4"
speed 'zstd --patch-from -3 --long=27 -T1' "$tmp/g.zst" \
	zstd -q -3 -T1 --long=27 --patch-from="$r" -c "$tmp/new.st" -- \
	zstd -q -d --long=27 --patch-from="$r" -c "$tmp/g.zst"
speed 'z4ai, no reference' "$tmp/i.z4" \
	"$z4ai" compress -q -c -T1 "$tmp/new.st" -- \
	"$z4ai" decompress -q -c -T1 "$tmp/i.z4"

#!/usr/bin/env bash
# shellcheck disable=SC2059 # the format is in $fmt
# Ratios on the corpus files that carry a known redundancy, beside the
# target for each: z4ai at the default level and at -9, zstd -19, and
# the bound that the corpus's BOUNDS.md gives (order-0 per tensor, fields
# apart or a palette: a scale per row or group, a zero mask and a
# repeated tensor are structure that goes past it).
# Each target is marked "met" or "short": a bare target is for the default
# level, one marked -9 for -9.  The dense targets at -9 are those for the
# highest level; FP8 and the frankenmerge, whose targets give no level,
# are marked at both.  The untied lm_head file should cost
# no more than gpt_base_step300_bf16 plus 0.1% and 4096 bytes (default
# level), since its extra tensor is a copy.  Ratio = original / compressed.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need_corpus
make_tmp
need_z4ai

head -c 8388608 /dev/urandom > "$tmp/random_8MiB.bin"

fmt='| %-56s | %8s | %8s | %6s | %7s | %7s | %6s | %-16s | %-11s |\n'
printf "$fmt" file bytes 'z4ai B' z4ai 'z4ai -9' 'zstd-19' bound target \
	status
rule l56 r8 r8 r6 r7 r7 r6 l16 l11

bounds=$data/../BOUNDS.md
# bound FILE: the ratio bound BOUNDS.md gives FILE, or - for none.
bound() {
	local b=
	if [ -r "$bounds" ]; then
		b=$(awk -F'|' -v f=" $(basename "$1") " \
			'$2 == f { gsub(/ /, "", $4); print $4 }' "$bounds")
	fi
	echo "${b:--}"
}

# size F [OPTION...]: bytes of z4ai compress OPTION... F.
size() {
	local f=$1
	shift
	"$z4ai" compress -q -c "$@" "$f" | wc -c
}

# Running sums for the group rows: bytes, z4ai bytes, -9, zstd -19, and
# the bytes of the bounds (- once a file has none).
gn=0 gz=0 g9=0 gs=0 gb=0

# mark BYTES PACKED TARGET: met or short.
mark() { if meets "$@"; then echo met; else echo short; fi; }

# row FILE TARGET TARGET9: one line; TARGET or TARGET9 may be -.
row() {
	local f=$1 t=$2 t9=$3 n z z9 zs b st="" tgt=""
	n=$(stat -c %s "$f")
	b=$(bound "$f")
	z=$(size "$f")
	z9=$(size "$f" -9)
	zs=$(zstd -q -19 -c "$f" | wc -c)
	if [ "$t" != - ]; then
		tgt=$t st=$(mark "$n" "$z" "$t")
	fi
	if [ "$t9" != - ]; then
		tgt="${tgt:+$tgt, }-9 $t9"
		st="${st:+$st, }$(mark "$n" "$z9" "$t9")"
	fi
	printf "$fmt" "$(basename "$f")" "$n" "$z" "$(ratio "$n" "$z")" \
		"$(ratio "$n" "$z9")" \
		"$(ratio "$n" "$zs")" "$b" "$tgt" "$st"
	gn=$((gn + n)) gz=$((gz + z)) g9=$((g9 + z9)) gs=$((gs + zs))
	if [ "$b" = - ] || [ "$gb" = - ]; then
		gb=-
	else
		gb=$(awk -v s="$gb" -v n="$n" -v b="$b" \
			'BEGIN { printf "%.1f", s + n / b }')
	fi
}

# total NAME TARGET TARGET9: the group row of the rows since the last one.
total() {
	local st
	st="$(mark "$gn" "$gz" "$2"), $(mark "$gn" "$g9" "$3")"
	local b=-
	[ "$gb" = - ] || b=$(ratio "$gn" "$gb")
	printf "$fmt" "**$1**" "$gn" "$gz" "$(ratio "$gn" "$gz")" \
		"$(ratio "$gn" "$g9")" "$(ratio "$gn" "$gs")" "$b" \
		"$2, -9 $3" "$st"
	gn=0 gz=0 g9=0 gs=0 gb=0
}

d=$data
row "$d/gpt_base_step300_int4_pertensor_dequant_bf16.safetensors" 4.40 -
row "$d/gpt_base_step300_int8_perchannel_dequant_f32.safetensors" 3.80 -
row "$d/gpt_base_step300_int4_g64_asym_dequant_bf16.safetensors" 3.20 -
row "$d/gpt_base_step300_fp8e4m3_dequant_bf16.safetensors" 2.335 2.335
row "$d/tfjs_faceapi_age_gender_dequant_f32.safetensors" 4.25 -
row "$d/tfjs_faceapi_age_gender_u8.safetensors" 1.21 -
row "$d/tfjs_faceapi_face_recognition_u8.safetensors" 1.67 -
row "$d/gpt_base_step300_prune50_unstructured_bf16.safetensors" 2.55 -
row "$d/gpt_base_step300_sparse24_bf16.safetensors" 2.60 -
row "$d/gpt_frankenmerge_6layer_bf16.safetensors" 2.225 2.225
row "$d/gpt_base_step300_bf16_upcast_f32.safetensors" - 3.04
row "$d/gpt_base_step300_fp16_upcast_f32.safetensors" - 2.37
row "$d/tfjs_upscalerjs_default_model_f32.safetensors" - 1.215
row "$tmp/random_8MiB.bin" 0.999 -

# The untied lm_head against the tied base, both at the default level.
base=$(size "$d/gpt_base_step300_bf16.safetensors")
f=$d/gpt_base_step300_untied_lmhead_bf16.safetensors
n=$(stat -c %s "$f")
z=$(size "$f")
lim=$((base + (base + 999) / 1000 + 4096))
st=met
[ "$z" -le "$lim" ] || st=short
printf "$fmt" "$(basename "$f")" "$n" "$z" "$(ratio "$n" "$z")" \
	"$(ratio "$n" "$(size "$f" -9)")" \
	"$(ratio "$n" "$(zstd -q -19 -c "$f" | wc -c)")" "$(bound "$f")" \
	"<= $lim" "$st"
printf "$fmt" "(gpt_base_step300_bf16.safetensors)" \
	"$(stat -c %s "$d/gpt_base_step300_bf16.safetensors")" "$base" \
	"" "" "" "" "(base+0.1%+4096)" ""
gn=0 gz=0 g9=0 gs=0 gb=0

for f in "$d"/gpt_base_step[0-9][0-9][0-9]_bf16.safetensors \
	"$d"/gpt_sft_*_bf16.safetensors "$d"/gpt_rl_*_bf16.safetensors \
	"$d"/gpt_ft_*_bf16.safetensors; do
	row "$f" 1.51 1.525
done
total 'all dense bf16' 1.51 1.525
for f in "$d"/gpt_base_step200_f32.safetensors \
	"$d"/gpt_base_step220_f32.safetensors "$d"/gpt_sft_*_f32.safetensors; do
	row "$f" 1.20 1.210
done
total 'all dense f32' 1.20 1.210

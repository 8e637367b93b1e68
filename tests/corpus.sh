#!/usr/bin/env bash
# Round-trip every file of ../shared/corpus/data through `z4ai compress` /
# `decompress` and through z4split | z4plane | z4cat, comparing bytes, and
# z4split | z4pal | z4plane with z4split | z4plane;
# every checkpoint pair as a delta, against the reference file and against
# its .z4; and extract every tensor of two corpus files with z4cat -n.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
data=${Z4_CORPUS:-$top/../shared/corpus/data}
export PATH="$top/bin:$PATH"

if [ ! -d "$data" ]; then
	echo "corpus: $data is absent; skipping the corpus round trips"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass=0 fail=0
check() {	# check NAME CMD...: count a pass or a failure
	local name=$1; shift
	if "$@"; then pass=$((pass + 1)); else
		fail=$((fail + 1)); echo "FAIL: $name"; fi
}
for f in "$data"/*; do
	[ -f "$f" ] && [ -s "$f" ] || continue
	b=$(basename "$f")
	check "$b z4ai" sh -c 'z4ai compress -q -c "$1" > "$2/a.z4" &&
		z4ai decompress -q -c < "$2/a.z4" | cmp -s - "$1"' _ "$f" "$tmp"
	check "$b pipeline" sh -c 'z4split < "$1" | z4plane | z4cat |
		cmp -s - "$1"' _ "$f"
	# The small tools code each chunk on its own but for exact repeats,
	# as z4ai does with -K 0 (no near copies coded against each other).
	check "$b same bytes" sh -c 'z4ai compress -q -K 0 -c "$1" > "$2/k.z4" &&
		z4split < "$1" | z4plane | cmp -s - "$2/k.z4"' _ "$f" "$tmp"
	# z4pal takes out what z4plane would, and codes nothing.
	check "$b z4pal" sh -c 'z4split < "$1" | z4pal | z4plane |
		cmp -s - "$2/k.z4"' _ "$f" "$tmp"
done

# The whole corpus as one tar stream, through z4pack and back.
tar -C "$data/.." -cf "$tmp/corpus.tar" "$(basename "$data")"
check "corpus tar" sh -c 'z4pack -q < "$1/corpus.tar" > "$1/corpus.z4a" &&
	z4cat "$1/corpus.z4a" | cmp -s - "$1/corpus.tar" &&
	z4cat < "$1/corpus.z4a" | cmp -s - "$1/corpus.tar"' _ "$tmp"
rm -f "$tmp/corpus.tar" "$tmp/corpus.z4a"

# Deltas: each checkpoint against the one saved before it, or its base;
# with the reference file, with its .z4, and through the small tools.
pair() {	# pair REF TARGET, names without .safetensors
	local r=$data/$1.safetensors f=$data/$2.safetensors
	[ -f "$r" ] && [ -f "$f" ] || return 0
	check "$2 -r $1" sh -c 'z4ai compress -q -r "$1" -c "$2" > "$3/d.z4" &&
		z4ai decompress -q -r "$1" -c "$3/d.z4" | cmp -s - "$2" &&
		z4ai compress -q -c "$1" > "$3/r.z4" &&
		z4ai decompress -q -r "$3/r.z4" -c "$3/d.z4" | cmp -s - "$2" &&
		z4split < "$2" | z4delta -r "$1" | z4cat -r "$1" |
		cmp -s - "$2"' _ "$r" "$f" "$tmp"
}
for s in 200 220 240 260 280; do
	pair gpt_base_step${s}_bf16 gpt_base_step$((s + 20))_bf16
done
pair gpt_base_step200_f32 gpt_base_step220_f32
for s in 10 20 30; do
	pair gpt_sft_lr2e-5_step${s}_bf16 gpt_sft_lr2e-5_step$((s + 10))_bf16
done
pair gpt_sft_lr2e-5_step10_f32 gpt_sft_lr2e-5_step20_f32
pair gpt_sft_lr2e-5_step40_bf16 gpt_rl_lr1e-6_step1_bf16
pair gpt_rl_lr1e-6_step1_bf16 gpt_rl_lr1e-6_step2_bf16
pair gpt_rl_lr1e-6_step2_bf16 gpt_rl_lr1e-6_step3_bf16
for t in lora_manpages frozenemb_changelog full_python; do
	pair gpt_base_step300_bf16 gpt_ft_${t}_bf16
done
rm -f "$tmp/d.z4" "$tmp/r.z4"

# Random access: every tensor of two checkpoints (one with repeated
# layers, so some tensors are REF frames), seekable and piped.
for f in "$data"/gpt_base_step300_bf16.safetensors \
    "$data"/gpt_frankenmerge_6layer_bf16.safetensors; do
	if [ ! -f "$f" ] || ! command -v python3 >/dev/null; then
		echo "corpus: no python3 or no $f; skipping its tensors"
		continue
	fi
	z4ai compress -q -c "$f" > "$tmp/m.z4"
	python3 - "$f" "$tmp" <<'PY' > "$tmp/list"
import json, struct, sys
path, tmp = sys.argv[1], sys.argv[2]
with open(path, "rb") as fh:
    n = struct.unpack("<Q", fh.read(8))[0]
    head = json.loads(fh.read(n))
    for i, (name, t) in enumerate(head.items()):
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        fh.seek(8 + n + b)
        with open(f"{tmp}/t{i}", "wb") as out:
            out.write(fh.read(e - b))
        print(f"{tmp}/t{i}\t{name}")
PY
	while IFS=$'\t' read -r want name; do
		check "-n $name" sh -c 'z4cat -n "$1" "$2" | cmp -s - "$3" &&
			z4cat -n "$1" < "$2" | cmp -s - "$3"' _ "$name" \
			"$tmp/m.z4" "$want"
	done < "$tmp/list"
done
echo "corpus: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

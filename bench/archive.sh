#!/usr/bin/env bash
# A model family as one archive: the BF16 base run (steps 200-300), the
# three RL-like steps, the three fine-tunes and a text file, as
# `tar --sort=name -cf` makes it; z4pack beside tar | zstd -19 --long=27
# and beside the sum of the members compressed one by one with z4ai, and
# the time to fetch one tensor of one member from the archive.
set -eu
. "$(dirname "$0")/lib.sh"
need_corpus
make_tmp
need_z4ai
z4pack=$top/bin/z4pack
z4cat=$top/bin/z4cat

mkdir "$tmp/family"
for f in "$data"/gpt_base_step{200,220,240,260,280,300}_bf16.safetensors \
    "$data"/gpt_rl_lr1e-6_step{1,2,3}_bf16.safetensors \
    "$data"/gpt_ft_*_bf16.safetensors; do
	ln -s "$f" "$tmp/family/$(basename "$f")"
done
printf 'model family: a base run, RL steps, fine-tunes\n' > "$tmp/family/README.txt"
tar -C "$tmp" --sort=name --dereference -cf "$tmp/family.tar" family
n=$(stat -c %s "$tmp/family.tar")

t0=$(now)
"$z4pack" -q < "$tmp/family.tar" > "$tmp/family.z4a"
t1=$(now)
"$z4cat" "$tmp/family.z4a" | cmp - "$tmp/family.tar"
a=$(stat -c %s "$tmp/family.z4a")
zstd -q -19 --long=27 -T1 -c "$tmp/family.tar" > "$tmp/family.tar.zst"
zs=$(stat -c %s "$tmp/family.tar.zst")
sum=0
for f in "$tmp"/family/*; do
	"$z4ai" compress -q -c "$f" > "$tmp/one.z4"
	sum=$((sum + $(stat -c %s "$tmp/one.z4")))
done
member=family/gpt_rl_lr1e-6_step3_bf16.safetensors
tensor=transformer.h.2.mlp.fc_in.weight
fetch=$(best "$z4cat" -m "$member" -n "$tensor" "$tmp/family.z4a")
read_bytes=$("$z4cat" -v -m "$member" -n "$tensor" "$tmp/family.z4a" 2>&1 \
	>/dev/null | sed -n 's/.*read \([0-9]*\) of.*/\1/p')

printf '| %-38s | %10s | %7s |\n' what bytes ratio
rule l38 r10 r7
printf '| %-38s | %10d | %7s |\n' "tar of the family" "$n" 1.000
printf '| %-38s | %10d | %7s |\n' "z4pack (exact back: yes)" "$a" "$(ratio "$n" "$a")"
printf '| %-38s | %10d | %7s |\n' "tar \\| zstd -19 --long=27" "$zs" "$(ratio "$n" "$zs")"
printf '| %-38s | %10d | %7s |\n' "members one by one with z4ai compress" "$sum" "$(ratio "$n" "$sum")"
echo
printf 'z4pack is %s times smaller than zstd -19 --long=27 (target 1.45), ratio %s (target 2.40)\n' \
	"$(ratio "$zs" "$a")" "$(ratio "$n" "$a")"
printf 'z4pack: %s MB/s; fetching %s of %s: %.1f ms, %s of %d bytes read\n' \
	"$(mbs "$n" $((t1 - t0)))" "$tensor" "$member" \
	"$(awk -v t="$fetch" 'BEGIN { print t / 1e6 }')" "$read_bytes" "$a"

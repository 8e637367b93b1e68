#!/bin/sh
# seeds.sh - seed corpora for the libFuzzer harnesses: small valid inputs
# made with the tools in bin/ (run make first) from tiny generated files,
# written as seed-* files into tests/fuzz/corpus-NAME/.  Files the fuzzer
# added to a corpus are kept.
set -eu
cd "$(dirname "$0")/../.."
bin=$PWD/bin
out=$PWD/tests/fuzz
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
export LC_ALL=C

# Bytes from numbers: octal escapes for printf.
bytes() {
	for b in "$@"; do
		printf "\\$(printf %03o $((b & 255)))"
	done
}
le16() { bytes $(($1)) $(($1 >> 8)); }
le64() {
	bytes $(($1)) $(($1 >> 8)) $(($1 >> 16)) $(($1 >> 24)) 0 0 0 0
}
# n pseudo-random bytes: kind 0 uniform, 1 skewed, 2 floats with dead
# low mantissa bits (bf16 values in f32), 3 text.
gen() {
	awk -v n="$1" -v kind="$2" 'BEGIN {
		srand(7 + kind)
		for (i = 0; i < n; i++) {
			if (kind == 0)
				b = int(rand() * 256)
			else if (kind == 1)
				b = rand() < 0.7 ? 0 : int(rand() * rand() * 16)
			else if (kind == 2)
				b = i % 4 < 2 ? 0 : (i % 4 == 3 ? \
				    60 + int(rand() * 4) + (rand() < .5) * 128 : \
				    int(rand() * 256))
			else
				b = 97 + int(rand() * rand() * 26)
			printf "%c", b
		}
	}'
}

# n bytes of BF16 rows of 32 elements, each row the first with small
# changes: a matrix ROWS codes.
rows() {
	awk -v n="$1" 'BEGIN {
		srand(11)
		for (j = 0; j < 32; j++) {
			lo[j] = 8 + int(rand() * 240)
			hi[j] = 60 + int(rand() * 4) + (rand() < .5) * 128
		}
		for (i = 0; i < n / 2; i++) {
			j = i % 32
			d = i < 32 ? 0 : int(rand() * 7) - 3
			printf "%c%c", lo[j] + d, hi[j]
		}
	}'
}

# A safetensors file: header length, JSON, data; several dtypes.
tensor() {	# name dtype shape bytes
	json="$json${json:+,}\"$1\":{\"dtype\":\"$2\",\"shape\":[$3],"
	json="$json\"data_offsets\":[$off,$((off + $4))]}"
	off=$((off + $4))
}
json= off=0
tensor a F32 2,3 24
tensor b BF16 4,8 64
tensor c F16 3 6
tensor d I8 5 5
tensor e F64 2 16
tensor f BOOL 3 3
tensor g F8_E4M3 4 4
tensor h F8_E8M0 2 2
tensor i U16 "" 2
tensor j I64 0 0
json="{\"__metadata__\":{\"format\":\"pt\"},$json}"
while [ $(((${#json} + 8) % 8)) -ne 0 ]; do json="$json "; done
{ le64 ${#json}; printf '%s' "$json"; gen $off 2; } > "$t/st"
{ le64 2; printf '{}'; } > "$t/st-empty"
head -c 60 "$t/st" > "$t/st-cut"
gen 300 0 > "$t/raw"
# n bytes of BF16 weights, magnitudes exponential about 0.05: a chunk
# FOLD codes at level 9.
weights() {
	awk -v n="$1" 'BEGIN {
		srand(13)
		for (i = 0; i < n / 2; i++) {
			x = -0.05 * log(1 - rand())
			e = int(log(x) / log(2))
			if (2 ^ e > x)
				e--
			m = int((x / 2 ^ e - 1) * 128)
			ex = e + 127
			printf "%c%c", (ex % 2) * 128 + m, \
			    (rand() < .5) * 128 + int(ex / 2)
		}
	}'
}
# n bytes of F16 integers -7 to 7 times a power of two per group of 64:
# a chunk GRID codes.
grid16() {
	awk -v n="$1" 'BEGIN {
		srand(17)
		for (i = 0; i < n / 2; i++) {
			if (i % 64 == 0)
				p = -6 - int(rand() * 4)
			k = int(rand() * 15) - 7
			if (k == 0) {
				printf "%c%c", 0, 0
				continue
			}
			a = k < 0 ? -k : k
			e = int(log(a) / log(2) + 1e-9)
			m = (a / 2 ^ e - 1) * 1024
			ex = e + p + 15
			printf "%c%c", m % 256, (k < 0) * 128 + ex * 4 + \
			    int(m / 256)
		}
	}'
}
# n bytes of BF16 with 2 of each 4 elements zero: a chunk ZEROS codes
# with a mask byte for each 4 elements.
sparse24() {
	awk -v n="$1" 'BEGIN {
		srand(19)
		split("3 5 6 9 10 12", keep, " ")
		for (i = 0; i < n / 2; i++) {
			if (i % 4 == 0)
				k = keep[1 + int(rand() * 6)]
			if (int(k / 2 ^ (i % 4)) % 2)
				printf "%c%c", int(rand() * 256), \
				    60 + int(rand() * 4)
			else
				printf "%c%c", 0, 0
		}
	}'
}
gen 600 1 > "$t/skewed"
gen 512 2 > "$t/floats"
weights 16384 > "$t/weights"
grid16 4096 > "$t/grid16"
sparse24 8192 > "$t/sparse24"
gen 400 3 > "$t/text"
: > "$t/empty"
{ gen 300 0; gen 300 0; gen 100 1; gen 300 0; } > "$t/repeats"
rj='{"r":{"dtype":"BF16","shape":[6,32],"data_offsets":[0,384]}}'
while [ $(((${#rj} + 8) % 8)) -ne 0 ]; do rj="$rj "; done
{ le64 ${#rj}; printf '%s' "$rj"; rows 384; } > "$t/st-rows"

# Streams: stored, piped through z4plane, compressed in one step.
z() { "$bin/z4ai" compress -c -q "$@"; }
"$bin/z4split" -c -B 64 "$t/st" > "$t/s-split"
"$bin/z4split" -c "$t/st" | "$bin/z4plane" -c -9 > "$t/s-plane9"
z -B 64 "$t/st" > "$t/s-st64"
z -1 "$t/st" > "$t/s-st1"
z -9 -D bf16 "$t/floats" > "$t/s-bf16"
z "$t/st-rows" > "$t/s-rows"
z -9 -D bf16 "$t/weights" > "$t/s-fold"
"$bin/z4split" -c -D f32 -B 64 "$t/floats" | "$bin/z4plane" -c > "$t/s-f32"
z -D f64 "$t/floats" > "$t/s-f64"
z -D f16 "$t/grid16" > "$t/s-grid16"
z -D bf16 "$t/sparse24" > "$t/s-sparse24"
z "$t/raw" > "$t/s-raw"
z -D u8 "$t/skewed" > "$t/s-u8"
z -B 100 "$t/text" > "$t/s-text"
z -B 300 -D u8 "$t/repeats" > "$t/s-ref"
"$bin/z4split" -c -B 300 -D u8 "$t/repeats" > "$t/s-ref-split"
"$bin/z4split" -c "$t/empty" > "$t/s-empty"
"$bin/z4split" -c "$t/st-empty" > "$t/s-st-empty"
# An archive: two checkpoints a byte apart (a delta between members),
# one twice (REF frames), a text file, an empty one.
mkdir "$t/run"
cp "$t/st" "$t/run/a.st"
cp "$t/st" "$t/run/b.st"
cp "$t/st" "$t/run/c.st"
printf 'Z' | dd of="$t/run/b.st" bs=1 seek=$((${#json} + 8 + 30)) \
    conv=notrunc 2>/dev/null
cp "$t/text" "$t/run/notes.txt"
: > "$t/run/empty"
tar -C "$t" --sort=name -cf "$t/run.tar" run
"$bin/z4pack" -c -q < "$t/run.tar" > "$t/s-tar"
# Streams that formats 0.5 to 0.7 wrote, which decoders read in their
# layouts.
for v in 05 06 07; do
	cp "tests/golden/v0.${v#0}/model.z4" "$t/s-v$v-model"
	cp "tests/golden/v0.${v#0}/run.z4a" "$t/s-v$v-run"
done
cat "$t/s-split" "$t/s-st64" > "$t/s-cat"
cat "$t/s-empty" "$t/s-text" "$t/s-empty" > "$t/s-cat3"

mkdir -p "$out/corpus-decode" "$out/corpus-extract" \
    "$out/corpus-safetensors" "$out/corpus-roundtrip" "$out/corpus-coders" \
    "$out/corpus-delta"

# Deltas from the reference fuzz_delta uses (the mutation test's "base"
# sample): its "next", and a file against itself; the first byte picks
# the reference's form (0 safetensors, 1 a z4 stream of it).
m=$PWD/tests/unit/mutate
if [ -x "$m" ]; then
	"$m" --make base "$t/base.st"
	"$m" --make next "$t/next.st"
	# Quantised U8 weights: BYTE-MODEL.
	"$m" --make quant "$t/quant.st"
	"$bin/z4ai" compress -q -c "$t/quant.st" > "$t/s-quant"
	"$bin/z4ai" compress -q -c "$t/base.st" > "$t/base.z4"
	for r in 0 1; do
		ref=$t/base.st
		[ $r = 1 ] && ref=$t/base.z4
		{ bytes $r; "$bin/z4ai" compress -q -r "$ref" -c "$t/next.st"; } \
		    > "$out/corpus-delta/seed-next-$r"
		{ bytes $r; "$bin/z4ai" compress -q -r "$ref" -c "$t/base.st"; } \
		    > "$out/corpus-delta/seed-self-$r"
	done
fi
for s in "$t"/s-*; do
	name=${s##*/}
	cp "$s" "$out/corpus-decode/seed-$name"
	{ printf '\001a'; cat "$s"; } > "$out/corpus-extract/seed-a-$name"
	{ printf '\001b'; cat "$s"; } > "$out/corpus-extract/seed-b-$name"
done
{ printf '\002nx'; cat "$t/s-cat"; } > "$out/corpus-extract/seed-nx-cat"

for f in st st-empty st-cut raw text empty; do
	cp "$t/$f" "$out/corpus-safetensors/seed-$f"
done

# Roundtrip: dtype byte (0: detect, k: dtype k - 1), level (plus 10 to
# match repeated chunks), chunk size - 1.
rt() {	# name dtype level chunk file
	{ bytes $2 $3; le16 $(($4 - 1)); cat "$5"; } \
	    > "$out/corpus-roundtrip/seed-$1"
}
rt st 0 3 64 "$t/st"
rt st-stored 0 0 4096 "$t/st"
rt bf16 8 9 256 "$t/floats"
rt f32 11 5 100 "$t/floats"
rt f64 14 6 65536 "$t/floats"
rt u8 3 3 1000 "$t/skewed"
rt raw 0 1 7 "$t/raw"
rt text 0 7 128 "$t/text"
if [ -f "$t/quant.st" ]; then
	rt quant 0 3 4096 "$t/quant.st"
fi
rt repeats 3 13 300 "$t/repeats"
rt repeats-stored 0 10 300 "$t/repeats"
rt rows 0 9 200 "$t/st-rows"
rt fold 8 9 16384 "$t/weights"
rt grid16 7 3 4096 "$t/grid16"

# Coders: decoded size, selector, coded bytes.  The plane of the first
# frame of a u8 stream (its coder is rANS) and a zstd frame; then
# parameters and planes for the planes transform.
frame_plane() {	# stream
	meta=$(od -An -tu2 -j18 -N2 "$1" | tr -d ' ')
	size=$(od -An -tu4 -j20 -N4 "$1" | tr -d ' ')
	raw=$(od -An -tu4 -j24 -N4 "$1" | tr -d ' ')
	{ le16 $raw; bytes 0; tail -c +$((16 + 20 + meta + 4 + 1)) "$1" |
	    head -c $size; }
}
frame_plane "$t/s-u8" > "$out/corpus-coders/seed-rans"
{ le16 300; bytes 64; zstd -q -c "$t/raw"; } > "$out/corpus-coders/seed-zstd"
{ le16 400; bytes 2; zstd -q -c "$t/text"; } \
    > "$out/corpus-coders/seed-zstd-text"
{ le16 64; bytes 1; le16 32; bytes 0 5 2 1 0 255 255 0 0 0 0 0 0 0 0 0 0 0 1
    gen 64 0; } > "$out/corpus-coders/seed-planes-bf16"
{ le16 66; bytes 0; le16 0; bytes 0 7 4 1 2 0 0 255 255 0 0 0 0 0 0 0 0 0 2
    le16 16; gen 16 2; le16 16; gen 16 1; le16 2; bytes 1 2
    } > "$out/corpus-coders/seed-planes-f32"
# OFFSETS (transform 10) on a header's pairs as differences.
offsets='"data_offsets":[0,8],"data_offsets":[0,32]'
{ le16 $((${#offsets} + 1)); bytes 0; le16 0; bytes 9 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
    bytes 0; le16 ${#offsets}; printf '%s' "$offsets"; gen 43 0
    } > "$out/corpus-coders/seed-offsets"
{ le16 600; bytes 129; cat "$t/skewed"; } > "$out/corpus-coders/seed-skewed"
# RANS with DIGRAMS: bytes 5 and 6, the pair (5, 6) alone, then the odd
# byte 7.
{ le16 3; bytes 0 8 1 5 1 0 0 2 0 7 0 128 0 0; } \
    > "$out/corpus-coders/seed-digrams"
# DELTA-MODEL alone in the chain: the selector byte gives the dtype
# ((sel >> 1) % 16), the parameters repeat it and its width, the plane is
# the one of a raw tensor coded against another a few bits off, and the
# reference's bytes follow the plane.
payload() {	# stream: the payload of its first frame
	meta=$(od -An -tu2 -j18 -N2 "$1" | tr -d ' ')
	size=$(od -An -tu4 -j20 -N4 "$1" | tr -d ' ')
	tail -c +$((16 + 20 + meta + 4 + 1)) "$1" | head -c $size
}
cp "$t/floats" "$t/floats-next"
for at in 0 64 200 301 448; do
	printf '\001' | dd of="$t/floats-next" bs=1 seek=$at conv=notrunc \
	    2>/dev/null
done
model_seed() {	# dtype sel dtype-id width
	"$bin/z4ai" compress -q -D $1 -c "$t/floats" > "$t/m-ref"
	"$bin/z4ai" compress -q -D $1 -r "$t/m-ref" -c "$t/floats-next" \
	    > "$t/m-cur"
	{ le16 512; bytes $2; le16 0; bytes 6 19 $3 $4 0 0 0 0 0 0 0 0 0 0 0 0 0 0
	    bytes 0; le16 $(payload "$t/m-cur" | wc -c); payload "$t/m-cur"
	    cat "$t/floats"; } > "$out/corpus-coders/seed-model-$1"
}
model_seed bf16 14 7 2
model_seed f16 12 6 2
model_seed f32 20 10 4

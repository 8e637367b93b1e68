# helper.bash - shared by every z4 bats file: a temp dir per test and
# generators for the inputs (random bytes, deterministic patterns, small
# safetensors files, good and malformed).  No python, no openssl: bash,
# printf, head, dd, cmp and coreutils only.

bats_require_minimum_version 1.5.0

# Byte-exact behaviour everywhere: ${#s} counts bytes, printf makes bytes.
export LC_ALL=C

common_setup() {
	# A directory of our own: bats keeps files of its own (run
	# --separate-stderr) in BATS_TEST_TMPDIR, and tests list theirs.
	TMP="$BATS_TEST_TMPDIR/work"
	mkdir -p "$TMP"
	cd "$TMP" || return 1
	# Tests must find the freshly built tools (make check puts bin/ first;
	# running bats by hand from the source tree works too; Z4_BINDIR
	# points at another build).
	local bindir=${Z4_BINDIR:-}
	[[ -n $bindir ]] ||
		bindir="$(cd "$BATS_TEST_DIRNAME/../bin" 2>/dev/null && pwd)"
	if [[ -n $bindir && $PATH != "$bindir:"* ]]; then
		PATH="$bindir:$PATH"
	fi
	umask 022
	set -o pipefail
}

setup() {
	common_setup
}

# ---------------------------------------------------------------- bytes

# random_bytes N OUT: N bytes from /dev/urandom (tests compare round trips).
random_bytes() {
	head -c "$1" /dev/urandom >"$2"
}

# zero_bytes N OUT
zero_bytes() {
	head -c "$1" /dev/zero >"$2"
}

# pattern_bytes N [SEED [MOD]]: N deterministic, varied bytes (a small
# LCG) on stdout, each in [0, MOD) (default 256), so that failures on
# small inputs reproduce.  The loop runs in a bash of its own: in a test,
# bats traps every command, which makes a loop here slow.
pattern_bytes() {
	bash -c '
		n=$1 x=$2 m=$3 s=""
		for ((i = 1; i <= n; i++)); do
			x=$(((x * 1103515245 + 12345) & 0x7fffffff))
			printf -v s "%s\\\\x%02x" "$s" $(((x >> 16) % m))
			if ((i % 512 == 0)); then
				printf "$s"
				s=""
			fi
		done
		printf "$s"' pattern_bytes "$1" "${2:-12345}" "${3:-256}"
}

# le64 N: N as 8 little-endian bytes on stdout.
le64() {
	local n=$1 fmt
	printf -v fmt '\\x%02x' $((n & 255)) $((n >> 8 & 255)) \
	    $((n >> 16 & 255)) $((n >> 24 & 255)) $((n >> 32 & 255)) \
	    $((n >> 40 & 255)) $((n >> 48 & 255)) $((n >> 56 & 255))
	printf "$fmt"
}

# fsize FILE: its size in bytes.
fsize() {
	stat -c %s "$1"
}

# mk_mixed FILE: a safetensors file, 20000 random bytes, and the file
# again: tensors, glue and opaque bytes, many frames with -B 512.
mk_mixed() {
	mk_safetensors "$1.st"
	random_bytes 20000 "$1.r"
	cat "$1.st" "$1.r" "$1.st" >"$1"
}

# flip_bit FILE OFFSET [BIT]: flip one bit of the byte at OFFSET in place.
flip_bit() {
	local f=$1 off=$2 bit=${3:-0} b
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "\\x$(printf %02x $((b ^ (1 << bit))))" |
		dd of="$f" bs=1 seek="$off" count=1 conv=notrunc status=none
}

# put_byte FILE OFFSET VALUE: overwrite one byte.
put_byte() {
	printf "\\x$(printf %02x "$3")" |
		dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}

# slice FILE OFFSET LEN: LEN bytes of FILE from OFFSET (0-based) on stdout.
slice() {
	dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=64K \
	    status=none
}

# find_bytes FILE NEEDLE-FILE: the offset of the first copy of the bytes
# of NEEDLE-FILE in FILE (on a byte boundary); fails if there is none.
find_bytes() {
	local hay needle pre off=0
	hay=$(od -An -v -tx1 "$1" | tr -d ' \n')
	needle=$(od -An -v -tx1 "$2" | tr -d ' \n')
	[[ -n $needle ]] || return 1
	while [[ $hay == *"$needle"* ]]; do
		pre=${hay%%"$needle"*}
		if ((${#pre} % 2 == 0)); then
			echo $(((off + ${#pre}) / 2))
			return 0
		fi
		# A match across a byte boundary: look past it.
		off=$((off + ${#pre} + 1))
		hay=${hay:${#pre}+1}
	done
	return 1
}

# ---------------------------------------------------------- safetensors

# st_assemble OUT JSON DATAFILE: the 8-byte header length, the JSON padded
# with spaces to a multiple of 8, then the data.  Sets ST_DATA_START.
st_assemble() {
	local out=$1 json=$2 data=$3
	while ((${#json} % 8)); do
		json+=' '
	done
	ST_DATA_START=$((8 + ${#json}))
	{
		le64 "${#json}"
		printf '%s' "$json"
		cat "$data"
	} >"$out"
}

# The tensors of the all-dtype file, in data order:
# name, safetensors dtype, shape (JSON), bytes.
ST_NAMES=(w.f64 w.f32 w.f16 w.bf16 w.f8e4m3 w.f8e5m2 w.i64 w.i32 w.i16
	w.i8 w.u64 w.u32 w.u16 w.u8 w.bool w.e8m0 w.empty w.scalar)
ST_DTYPES=(F64 F32 F16 BF16 F8_E4M3 F8_E5M2 I64 I32 I16 I8 U64 U32 U16 U8
	BOOL F8_E8M0 F32 F32)
ST_SHAPES=('[2,3]' '[2,3]' '[3]' '[2,2]' '[5]' '[5]' '[2]' '[3]' '[3]'
	'[7]' '[1]' '[2]' '[3]' '[4,2]' '[3]' '[4]' '[0,4]' '[]')
ST_SIZES=(48 24 6 8 5 5 16 12 6 7 8 8 6 8 3 4 0 4)
# z4info spelling: OPAQUE for types this version does not model.
ST_Z4DTYPES=(F64 F32 F16 BF16 F8_E4M3 F8_E5M2 I64 I32 I16 I8 U64 U32 U16 U8
	BOOL OPAQUE F32 F32)

# mk_safetensors OUT: a small valid safetensors file with one tensor of
# every dtype, an opaque F8_E8M0 one, a zero-size one and a scalar, plus
# __metadata__.  Sets ST_BEGIN[i], ST_END[i] (relative to the data) and
# ST_DATA_START (absolute offset of the data).
mk_safetensors() {
	local out=$1 json='{' at=0 i total=0
	ST_BEGIN=() ST_END=()
	for i in "${!ST_NAMES[@]}"; do
		ST_BEGIN[i]=$at
		ST_END[i]=$((at + ST_SIZES[i]))
		json+="\"${ST_NAMES[i]}\":{\"dtype\":\"${ST_DTYPES[i]}\",\"shape\":${ST_SHAPES[i]},\"data_offsets\":[$at,${ST_END[i]}]},"
		at=${ST_END[i]}
	done
	total=$at
	json+='"__metadata__":{"format":"pt","k":"v"}}'
	pattern_bytes "$total" 777 >"$out.data"
	st_assemble "$out" "$json" "$out.data"
	rm -f "$out.data"
	ST_ALL_DATA_START=$ST_DATA_START
}

# st_tensor_bytes FILE I: the bytes of tensor I of a file made by
# mk_safetensors, straight from the file.
st_tensor_bytes() {
	slice "$1" $((ST_ALL_DATA_START + ST_BEGIN[$2])) "${ST_SIZES[$2]}"
}

# mk_safetensors_big OUT SIZE: a small tensor, then a big one of SIZE
# bytes (BF16, random), then a small one: for random access.
mk_safetensors_big() {
	local out=$1 size=$2
	local json="{\"a.small\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
	json+="\"b.big\":{\"dtype\":\"BF16\",\"shape\":[$((size / 2))],\"data_offsets\":[16,$((16 + size))]},"
	json+="\"c.tail\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[$((16 + size)),$((24 + size))]}}"
	{
		pattern_bytes 16 1
		head -c "$size" /dev/urandom
		pattern_bytes 8 2
	} >"$out.data"
	st_assemble "$out" "$json" "$out.data"
	rm -f "$out.data"
}

# Malformed variants: each looks like safetensors (8-byte length, then
# '{') and must still round-trip exactly.  Those whose header alone gives
# them away are kept as opaque bytes, and so are out_of_range and
# truncated_data when they are files; from a pipe, whose size is not
# known, the splitter takes those two as safetensors whose data ends early.
ST_BAD_KINDS=(bad_json out_of_range overlap header_past_end size_mismatch
	not_object unknown_dtype truncated_data)

# mk_bad_safetensors KIND OUT
mk_bad_safetensors() {
	local kind=$1 out=$2 json
	pattern_bytes 64 99 >"$out.data"
	case $kind in
	bad_json)
		json='{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},,}'
		;;
	out_of_range)
		# Offsets far past the end of the file.
		json='{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"U8","shape":[4096],"data_offsets":[16,4112]}}'
		;;
	overlap)
		json='{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}'
		;;
	header_past_end)
		# The length field claims more header than the file holds.
		{
			le64 4096
			printf '%s' '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}'
			cat "$out.data"
		} >"$out"
		rm -f "$out.data"
		return
		;;
	size_mismatch)
		json='{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}}'
		;;
	not_object)
		json='{"a":[1,2,3]}'
		;;
	unknown_dtype)
		json='{"a":{"dtype":"Q4_K","shape":[4],"data_offsets":[0,4]}}'
		;;
	truncated_data)
		# Valid header, but the data ends halfway through tensor b.
		json='{"a":{"dtype":"U8","shape":[16],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[64],"data_offsets":[16,272]}}'
		;;
	*)
		echo "mk_bad_safetensors: unknown kind $kind" >&2
		return 1
		;;
	esac
	st_assemble "$out" "$json" "$out.data"
	rm -f "$out.data"
}

# ------------------------------------------------------- round-trip cases

# mk_rt_cases: write the round-trip inputs into the current directory and
# set RT_CASES, one "FILE|OPTIONS" per case (OPTIONS for z4split and
# z4ai compress).  Sizes that are no multiple of the element width,
# chunk size -1/0/+1, many chunks, random bytes, the all-dtype
# safetensors file and every malformed variant.
mk_rt_cases() {
	local n k
	RT_CASES=()
	for n in 0 1 3 1001; do
		random_bytes "$n" "r$n"
		RT_CASES+=("r$n|" "r$n|-D bf16" "r$n|-D f32")
	done
	RT_CASES+=("r1001|-D f64" "r1001|-B 3 -D bf16")
	for n in 4095 4096 4097; do
		random_bytes "$n" "c$n"
		RT_CASES+=("c$n|-B 4096" "c$n|-B 4K -D bf16")
	done
	random_bytes $((100 * 1024)) many
	RT_CASES+=("many|-B 1024" "many|-B 1024 -D bf16")
	zero_bytes $((64 * 1024)) zeros
	RT_CASES+=("zeros|-B 1000 -D f32")
	mk_safetensors st
	RT_CASES+=("st|" "st|-B 4" "st|-B 1")
	for k in "${ST_BAD_KINDS[@]}"; do
		mk_bad_safetensors "$k" "bad_$k"
		RT_CASES+=("bad_$k|")
	done
}

# rt_case CASE: sets RT_FILE and RT_OPTS (an array) from "FILE|OPTIONS".
rt_case() {
	RT_FILE=${1%%|*}
	read -r -a RT_OPTS <<<"${1#*|}"
}

# each_rt_case FUNC: makes the round-trip cases and runs FUNC once for
# each, with RT_FILE and RT_OPTS set and the case named first, so that a
# failure says which.
each_rt_case() {
	local c
	mk_rt_cases
	for c in "${RT_CASES[@]}"; do
		rt_case "$c"
		echo "# case: $c"
		"$1"
	done
}

# ---------------------------------------------------------------- damage

# mk_small OUT: a small file (under 500 bytes) with every part a decoder
# checks: two streams; the first a glue frame of 60 bytes of text (zstd);
# the second a raw U8 tensor in three chunks: zeros (rANS of one symbol),
# two symbols (rANS), six bytes (stored).  Each stream has its index and
# trailer.  The original goes to OUT.orig; SMALL_CUT is the size of the
# first stream (cut there, the file is one whole stream).
mk_small() {
	local out=$1
	printf 'hello hello hello hello hello hello hello hello hello hello ' \
	    >"$out.a"
	{
		head -c 96 /dev/zero
		pattern_bytes 96 7 2 | tr '\000\001' '\001\002'
		pattern_bytes 6 3
	} >"$out.b"
	cat "$out.a" "$out.b" >"$out.orig"
	z4ai compress -c "$out.a" >"$out"
	SMALL_CUT=$(fsize "$out")
	z4ai compress -c -D u8 -B 96 "$out.b" >>"$out"
	rm -f "$out.a" "$out.b"
}

# mk_planes OUT: a stream whose one frame (16 KiB of BF16 with a constant
# high byte and a 2-bit low byte) is split into byte planes, coded by
# different coders.  The original goes to OUT.orig.
mk_planes() {
	local out=$1
	pattern_bytes 8192 5 4 | od -An -v -tu1 |
		awk '{ for (i = 1; i <= NF; i++) printf "%c%c", $i + 1, 63 }' \
		>"$out.orig"
	z4ai compress -c -D bf16 "$out.orig" >"$out"
}

# The damage loops below print one line per offset that does not fail as
# it should, and nothing when all is well.  The first word of TOOL... is
# the program name expected in the message.  No subshell per offset: the
# loops run once per byte and must stay quick.

# truncate_loop FILE TOOL... : run TOOL... t.z4 on every proper prefix of
# FILE (0 to size-1 bytes; every TRUNC_STEP-th when that is set).  A
# prefix of SMALL_CUT bytes (when set) is a whole stream: there TOOL must
# succeed quietly.
truncate_loop() {
	local f=$1 n k rc lines step=${TRUNC_STEP:-1}
	shift
	n=$(fsize "$f")
	for ((k = 0; k < n; k += step)); do
		head -c "$k" "$f" >t.z4
		rc=0
		"$@" t.z4 >t.out 2>t.err || rc=$?
		mapfile -t lines <t.err
		if ((k == ${SMALL_CUT:--1})); then
			((rc == 0 && ${#lines[@]} == 0)) ||
				echo "offset $k (a whole stream): exit $rc: ${lines[*]}"
			continue
		fi
		check_damage_result "$1" "$k" "$rc" "${lines[@]}"
	done
}

# flip_loop FILE MUL ADD TOOL... : in a copy of FILE, flip bit
# (offset * MUL + ADD) % 8 of every byte in turn and run TOOL... t.z4.
# (MUL 0: always bit ADD; MUL 1: the bits in rotation.)  One dd per
# offset writes the previous byte back and the flipped one.  FLIP_STEP
# (default 1) visits only every so many bytes past the first FLIP_ALL
# (default all).  A flip that TOOL accepts must leave a stream that
# z4cat decodes to FILE's original, the bytes z4cat gives for FILE: a
# few bits of a Zstandard frame (an unused header bit, the window size)
# do not change what it decodes to.
flip_loop() {
	local f=$1 mul=$2 add=$3 n k rc lines bytes x y prev=-1
	local step=${FLIP_STEP:-1} all=${FLIP_ALL:-}
	shift 3
	n=$(fsize "$f")
	read -r -a bytes <<<"$(od -An -v -tu1 "$f" | tr '\n' ' ')"
	if ((${#bytes[@]} != n)); then
		echo "od read ${#bytes[@]} bytes of $n"
		return 1
	fi
	cp "$f" t.z4
	z4cat "$f" >t.orig
	[[ -n $all ]] || all=$n
	for ((k = 0; k < n; k += (k < all ? 1 : step))); do
		printf -v y '%02x' $((bytes[k] ^ (1 << ((k * mul + add) % 8))))
		if ((k == 0 || prev != k - 1)); then
			# Put back the byte flipped last, then flip this one.
			if ((prev >= 0)); then
				printf -v x '%02x' "${bytes[prev]}"
				printf "\\x$x" >byte
				dd if=byte of=t.z4 bs=1 seek="$prev" conv=notrunc \
				    status=none
			fi
			printf "\\x$y" >byte
			dd if=byte of=t.z4 bs=1 seek="$k" conv=notrunc status=none
		else
			printf -v x '%02x' "${bytes[k - 1]}"
			printf "\\x$x\\x$y" >byte
			dd if=byte of=t.z4 bs=1 seek=$((k - 1)) conv=notrunc \
			    status=none
		fi
		prev=$k
		rc=0
		"$@" t.z4 >t.out 2>t.err || rc=$?
		mapfile -t lines <t.err
		if ((rc == 0 && ${#lines[@]} == 0)) &&
		    z4cat t.z4 2>/dev/null | cmp -s - t.orig; then
			continue
		fi
		check_damage_result "$1" "$k" "$rc" "${lines[@]}"
	done
	printf -v x '%02x' "${bytes[prev]}"
	printf "\\x$x" >byte
	dd if=byte of=t.z4 bs=1 seek="$prev" conv=notrunc status=none
	cmp t.z4 "$f" >/dev/null || echo "t.z4 was not restored"
}

# check_damage_result PROG OFFSET STATUS LINE...: print a line unless the
# status is 1 and stderr one line "PROG: 't.z4': WHERE: MESSAGE".
check_damage_result() {
	local prog=$1 k=$2 rc=$3
	shift 3
	if ((rc != 1 || $# != 1)) ||
	    [[ ! $1 =~ ^$prog:\ \'t\.z4\':\ [^:]+:\ [^:]+$ ]]; then
		echo "offset $k: exit $rc, $# lines: $*"
	fi
}

# ------------------------------------------------------------ assertions

# assert_one_error_line PREFIX: exactly one line on stderr, starting with
# PREFIX.  Call after `run -N --separate-stderr`.
assert_one_error_line() {
	local prefix=$1
	if ((${#stderr_lines[@]} != 1)); then
		echo "expected one line on stderr, got ${#stderr_lines[@]}:" >&2
		printf '%s\n' "$stderr" >&2
		return 1
	fi
	if [[ ${stderr_lines[0]} != "$prefix"* ]]; then
		echo "stderr does not start with '$prefix': $stderr" >&2
		return 1
	fi
}

# assert_data_error TOOL FILE: one line "TOOL: 'FILE': WHERE: MESSAGE",
# with neither WHERE nor MESSAGE empty.
assert_data_error() {
	local tool=$1 file=$2
	assert_one_error_line "$tool: '$file': " || return 1
	local rest=${stderr_lines[0]#"$tool: '$file': "}
	if [[ ! $rest =~ ^[^:]+:\ [^:]+$ ]]; then
		echo "not 'WHERE: MESSAGE': ${stderr_lines[0]}" >&2
		return 1
	fi
}

# assert_damage_refused TOOL STREAM: TOOL -o out.z4 on STREAM less its
# last byte, and on STREAM with a bit of its middle byte flipped: each is
# exit 1 with one line, and leaves no output file, temporary or not.
assert_damage_refused() {
	local tool=$1 stream=$2 n
	n=$(fsize "$stream")
	head -c $((n - 1)) "$stream" >cut.z4
	run -1 --separate-stderr "$tool" -o out.z4 cut.z4
	assert_data_error "$tool" cut.z4
	[ "$stderr" = "$tool: 'cut.z4': trailer: unexpected end of input" ]
	[ ! -e out.z4 ]
	assert_no_tmp
	cp "$stream" bad.z4
	flip_bit bad.z4 $((n / 2)) 3
	run -1 --separate-stderr "$tool" -o out.z4 bad.z4
	assert_data_error "$tool" bad.z4
	[ ! -e out.z4 ]
	assert_no_tmp
}

# usage_text TOOL: what TOOL -h prints (exit 0, nothing on stderr); sets
# USAGE.  It must start "usage: TOOL".
usage_text() {
	USAGE=$("$1" -h 2>/dev/null) || return 1
	[[ $USAGE == "usage: $1 "* ]] || [[ $USAGE == "usage: $1" ]]
}

# from_pipe FILE CMD...: CMD with FILE on stdin through a pipe (not a
# seekable file), for run.
from_pipe() {
	local f=$1
	shift
	cat "$f" | "$@"
}

# to_full CMD...: CMD with stdout on /dev/full (for run, which takes
# stdout for itself).
to_full() {
	"$@" >/dev/full
}

# No temporary output files (NAME.XXXXXX) left in the current dir.
assert_no_tmp() {
	local left
	left=$(ls -A | grep -E '\.[A-Za-z0-9]{6}$' || true)
	if [[ -n $left ]]; then
		echo "temporary files left behind: $left" >&2
		return 1
	fi
}

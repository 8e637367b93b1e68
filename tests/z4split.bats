#!/usr/bin/env bats
# z4split: bytes -> frames with stored planes.

load helper

@test "z4split | z4cat: every round-trip case is exact" {
	split_cat() {
		z4split "${RT_OPTS[@]}" "$RT_FILE" >out.z4
		z4cat out.z4 >out
		cmp "$RT_FILE" out
		# The same through pipes, input on stdin.
		z4split "${RT_OPTS[@]}" <"$RT_FILE" | z4cat >out
		cmp "$RT_FILE" out
	}
	each_rt_case split_cat
}

@test "z4split: a file operand and stdin give the same stream" {
	mk_safetensors st
	z4split st >a.z4
	z4split <st >b.z4
	z4split - <st >c.z4
	cmp a.z4 b.z4
	cmp a.z4 c.z4
}

@test "z4split: output is deterministic" {
	random_bytes 5000 in
	z4split -D bf16 -B 1000 in >a.z4
	z4split -D bf16 -B 1000 in >b.z4
	cmp a.z4 b.z4
}

@test "z4split: the stream starts with the magic, version 0.8, flags 0" {
	random_bytes 10 in
	z4split in >out.z4
	[ "$(head -c 6 out.z4 | od -An -tx1 | tr -d ' ')" = 895a340a0008 ]
	# Source_Kind 0 (raw) for bytes, 1 for safetensors; Flags 0.
	[ "$(slice out.z4 6 2 | od -An -tx1 | tr -d ' ')" = 0000 ]
	mk_safetensors st
	z4split st >st.z4
	[ "$(slice st.z4 6 2 | od -An -tx1 | tr -d ' ')" = 0100 ]
}

@test "z4split: the stream ends with the trailer magic" {
	random_bytes 10 in
	z4split in >out.z4
	local n
	n=$(fsize out.z4)
	[ "$(slice out.z4 $((n - 32)) 4 | od -An -tx1 | tr -d ' ')" = 895a3445 ]
}

@test "z4split: the all-dtype safetensors file is split into its tensors" {
	mk_safetensors st
	z4split st >st.z4
	run -0 --separate-stderr z4info st.z4
	local i
	for i in "${!ST_NAMES[@]}"; do
		[[ $output == *" ${ST_NAMES[i]}"* ]]
	done
}

@test "z4split -v: a good safetensors file gets no note" {
	mk_safetensors st
	run -0 --separate-stderr z4split -v -o st.z4 st
	[ "$stderr" = "" ]
}

@test "z4split -v: each malformed safetensors variant says why it is opaque" {
	local k
	for k in bad_json overlap header_past_end size_mismatch not_object \
	    unknown_dtype out_of_range truncated_data; do
		echo "# kind: $k"
		mk_bad_safetensors "$k" "bad_$k"
		run -0 --separate-stderr z4split -v -o "bad_$k.z4" "bad_$k"
		assert_one_error_line "z4split: 'bad_$k': not safetensors ("
		[[ $stderr == *"): kept as opaque bytes" ]]
		z4cat "bad_$k.z4" | cmp - "bad_$k"
		# Opaque: no tensor rows, only glue.
		run -0 --separate-stderr z4info -j "bad_$k.z4"
		[[ $output != *'"name":'* ]]
	done
	mk_bad_safetensors bad_json j
	run -0 --separate-stderr z4split -v -o j.z4 j
	[ "$stderr" = "z4split: 'j': not safetensors (bad JSON): kept as opaque bytes" ]
	mk_bad_safetensors overlap o
	run -0 --separate-stderr z4split -v -o o.z4 o
	[ "$stderr" = "z4split: 'o': not safetensors (tensors overlap): kept as opaque bytes" ]
	mk_bad_safetensors header_past_end h
	run -0 --separate-stderr z4split -v -o h.z4 h
	[[ $stderr == *"(header length past the end of the input)"* ]]
	mk_bad_safetensors size_mismatch s
	run -0 --separate-stderr z4split -v -o s.z4 s
	[[ $stderr == *"(data_offsets do not match dtype and shape)"* ]]
}

@test "z4split -v: short and non-JSON inputs are opaque bytes" {
	printf 'abc' >short
	run -0 --separate-stderr z4split -v -o short.z4 short
	[ "$stderr" = "z4split: 'short': not safetensors (shorter than a safetensors header): kept as opaque bytes" ]
	{
		le64 4
		printf 'abcdefgh'
	} >nobrace
	run -0 --separate-stderr z4split -v -o nobrace.z4 nobrace
	[[ $stderr == *"(header does not start with '{')"* ]]
	z4cat nobrace.z4 | cmp - nobrace
	z4cat short.z4 | cmp - short
}

@test "z4split: offsets past the end of the file make the file opaque" {
	mk_bad_safetensors out_of_range f
	run -0 --separate-stderr z4split -v -o f.z4 f
	[ "$stderr" = "z4split: 'f': not safetensors (data offsets past the end of the input): kept as opaque bytes" ]
	run -0 --separate-stderr z4info -j f.z4
	[[ $output != *'"name":'* ]]
	z4cat f.z4 | cmp - f
	# From a pipe the size is not known: the tensor ends early, exactly.
	cat f | z4split >p.z4
	run -0 --separate-stderr z4info -j p.z4
	[[ $output == *'"name": "b"'* ]]
	z4cat p.z4 | cmp - f
}

@test "z4split -D: a raw buffer becomes one tensor of that dtype" {
	random_bytes 1001 in
	z4split -D bf16 -B 256 in >out.z4
	run -0 --separate-stderr z4info -j out.z4
	[[ $output == *'"dtype": "BF16", "shape": null, "original": 1001'* ]]
	z4cat out.z4 | cmp - in
	# Any case is accepted.
	z4split -D BF16 -B 256 in | cmp - out.z4
	z4split --dtype=Bf16 --chunk-size=256 in | cmp - out.z4
}

@test "z4split -D: every dtype name is accepted" {
	random_bytes 17 in
	local d
	for d in bf16 f16 f32 f64 i8 i16 i32 i64 u8 u16 u32 u64 bool f8_e4m3 \
	    f8_e5m2; do
		echo "# dtype $d"
		z4split -D "$d" in >out.z4
		z4cat out.z4 | cmp - in
	done
}

@test "z4split -D: an unknown dtype is a usage error" {
	random_bytes 10 in
	run -2 --separate-stderr z4split -D bogus in
	[ "$stderr" = "z4split: unknown dtype 'bogus'" ]
	[ "$output" = "" ]
	# OPAQUE is what the parser assigns, not a type one declares.
	run -2 --separate-stderr z4split -D opaque in
	[ "$stderr" = "z4split: unknown dtype 'opaque'" ]
}

@test "z4split -B: sizes 1 to 64M with K and M suffixes" {
	random_bytes 100 in
	local b
	for b in 1 7 4k 4K 1M 1m 64M 67108864; do
		echo "# -B $b"
		z4split -B "$b" in >out.z4
		z4cat out.z4 | cmp - in
	done
}

@test "z4split -B: out of range or malformed sizes are usage errors" {
	random_bytes 100 in
	local b
	for b in 0 65M 67108865 1x -1 '' 4KK 18446744073709551616 \
	    99999999999999999999M; do
		echo "# -B '$b'"
		run -2 --separate-stderr z4split -B "$b" in
		[ "$stderr" = "z4split: bad chunk size '$b' (1 to 64M)" ]
		[ "$output" = "" ]
	done
}

@test "z4split -B: chunk size -1, +0, +1 round-trip" {
	local n
	for n in 4095 4096 4097 8191 8192 8193; do
		random_bytes "$n" "in$n"
		z4split -B 4096 "in$n" | z4cat | cmp - "in$n"
		z4split -B 4096 -D f32 "in$n" | z4cat | cmp - "in$n"
	done
	# A tensor of exactly one chunk and one of one chunk and a byte.
	local json='{"a":{"dtype":"U8","shape":[4096],"data_offsets":[0,4096]},"b":{"dtype":"U8","shape":[4097],"data_offsets":[4096,8193]}}'
	random_bytes 8193 data
	st_assemble st "$json" data
	z4split -B 4096 st >st.z4
	z4cat st.z4 | cmp - st
	z4cat -n a st.z4 | cmp - <(head -c 4096 data)
	z4cat -n b st.z4 | cmp - <(tail -c 4097 data)
}

@test "z4split -o: writes the file, mode from the umask" {
	random_bytes 100 in
	umask 027
	run -0 --separate-stderr z4split -o out.z4 in
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	[ "$(stat -c %a out.z4)" = 640 ]
	z4cat out.z4 | cmp - in
	assert_no_tmp
}

@test "z4split -o: an existing output is refused without -f" {
	random_bytes 100 in
	echo keep >out.z4
	run -2 --separate-stderr z4split -o out.z4 in
	[ "$stderr" = "z4split: 'out.z4' already exists (use -f to overwrite)" ]
	[ "$(cat out.z4)" = keep ]
	run -0 --separate-stderr z4split -f -o out.z4 in
	z4cat out.z4 | cmp - in
	assert_no_tmp
}

@test "z4split -o -: standard output" {
	random_bytes 100 in
	z4split -o - in | z4cat | cmp - in
	[ ! -e ./- ]
}

@test "z4split: a missing input is a system error" {
	run -3 --separate-stderr z4split -c nonexistent
	[ "$stderr" = "z4split: cannot read 'nonexistent': No such file or directory" ]
	[ "$output" = "" ]
}

@test "z4split: a directory as input is a system error, no output left" {
	mkdir d
	run -3 --separate-stderr z4split -o d.z4 d
	assert_one_error_line "z4split: 'd': "
	[[ $stderr == *"Is a directory" ]]
	[ ! -e d.z4 ]
	assert_no_tmp
}

@test "z4split: two operands are a usage error" {
	random_bytes 10 a
	random_bytes 10 b
	usage_text z4split
	run -2 --separate-stderr z4split a b
	[ "$output" = "" ]
	[ "$stderr" = "$USAGE" ]
}

@test "z4split: an unknown option is a usage error" {
	usage_text z4split
	run -2 --separate-stderr z4split -x
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "z4split: invalid option -- 'x'" ]
	[ "$stderr" = "${stderr_lines[0]}"$'\n'"$USAGE" ]
	run -2 --separate-stderr z4split --bogus
	[ "${stderr_lines[0]}" = "z4split: unrecognized option '--bogus'" ]
	[ "$stderr" = "${stderr_lines[0]}"$'\n'"$USAGE" ]
}

@test "z4split -h: usage on stdout" {
	run -0 --separate-stderr z4split -h
	[[ $output == "usage: z4split "* ]]
	[ "$stderr" = "" ]
	# Every option is in it.
	local o
	for o in -c -f -h -q -V -v '-B size' '-D dtype' '-o file' '[file]'; do
		[[ $output == *"$o"* || $output == *"[-"*"${o#-}"*"]"* ]]
	done
	local h=$output
	run -0 --separate-stderr z4split --help
	[ "$output" = "$h" ]
}

@test "z4split -V: version" {
	run -0 --separate-stderr z4split -V
	[ "$output" = "z4split 0.1.0 (libz4 0.1.0, format 0.8)" ]
	run -0 --separate-stderr z4split --version
	[ "$output" = "z4split 0.1.0 (libz4 0.1.0, format 0.8)" ]
}

@test "z4split: a write error is exit 3" {
	[ -w /dev/full ] || skip "no /dev/full"
	random_bytes 1000 in
	run -3 --separate-stderr to_full z4split in
	[ "$stderr" = "z4split: '(stdout)': write: No space left on device" ]
	run -3 --separate-stderr to_full z4split -h
	[ "$stderr" = "z4split: error writing standard output: No space left on device" ]
}

needs_script() {
	command -v script >/dev/null || skip "script (util-linux) is missing"
	script -qec true /dev/null </dev/null >/dev/null 2>&1 ||
		skip "script cannot allocate a pseudo-terminal"
}

@test "z4split: refuses to write frames to a terminal" {
	needs_script
	random_bytes 100 f
	run -2 script -qec "z4split f" /dev/null </dev/null
	[[ $output == *"z4split: refusing to write frames to a terminal (use -c or -f)"* ]]
	run -2 script -qec "z4split <f" /dev/null </dev/null
	[[ $output == *"refusing to write frames to a terminal"* ]]
	run -2 script -qec "z4split -o - f" /dev/null </dev/null
	[[ $output == *"refusing to write frames to a terminal"* ]]
}

@test "z4split: -c and -f allow a terminal, -o does not need them" {
	needs_script
	random_bytes 100 f
	run -0 script -qec "z4split -c f" /dev/null </dev/null
	run -0 script -qec "z4split -f f" /dev/null </dev/null
	run -0 script -qec "z4split -o f.z4 f" /dev/null </dev/null
	z4cat f.z4 | cmp - f
}

@test "z4split: SIGTERM while writing -o leaves no file behind" {
	mkfifo fifo
	# fd 3 belongs to bats: the background job must not hold it.
	z4split -o out.z4 fifo 3>&- &
	local pid=$! w
	exec {w}>fifo
	head -c 100000 /dev/urandom >&"$w"
	local i
	for ((i = 0; i < 200; i++)); do
		compgen -G 'out.z4.*' >/dev/null && break
		sleep 0.02
	done
	compgen -G 'out.z4.*' >/dev/null
	kill -TERM "$pid"
	exec {w}>&-
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 143 ]
	[ ! -e out.z4 ]
	assert_no_tmp
}

#!/usr/bin/env bats
# z4plane: frames -> frames with every stored plane zstd-coded.

load helper

@test "z4split | z4plane | z4cat: every round-trip case is exact" {
	through_plane() {
		z4split "${RT_OPTS[@]}" <"$RT_FILE" | z4plane | z4cat >out
		cmp "$RT_FILE" out
	}
	each_rt_case through_plane
}

@test "z4split | z4plane gives the same bytes as z4ai compress -c" {
	same_as_z4ai() {
		z4split "${RT_OPTS[@]}" "$RT_FILE" | z4plane >a.z4
		z4ai compress -c "${RT_OPTS[@]}" "$RT_FILE" >b.z4
		cmp a.z4 b.z4
	}
	each_rt_case same_as_z4ai
}

@test "z4plane -N matches z4ai compress -N" {
	mk_safetensors st
	local l
	for l in 1 5 9; do
		z4split -B 16 st | z4plane "-$l" >a.z4
		z4ai compress "-$l" -B 16 -c st >b.z4
		cmp a.z4 b.z4
	done
}

@test "z4plane: compresses compressible data and keeps it exact" {
	zero_bytes 100000 zeros
	z4split -D f32 zeros >stored.z4
	z4plane stored.z4 >coded.z4
	(($(fsize coded.z4) < 10000))
	(($(fsize stored.z4) > 100000))
	z4cat coded.z4 | cmp - zeros
	run -0 --separate-stderr z4info coded.z4
	read -r -a ROW <<<"${lines[1]}"
	[ "${ROW[3]}" = F32 ]
	[ "${ROW[5]}" != stored ]
}

@test "z4plane: incompressible planes stay stored" {
	random_bytes 5000 in
	z4split -D u8 in >stored.z4
	z4plane stored.z4 >coded.z4
	run -0 --separate-stderr z4info -j coded.z4
	[[ $output == *'"chain": "stored"'* ]]
	[[ $output != *'"chain": "zstd"'* ]]
	z4cat coded.z4 | cmp - in
}

@test "z4plane -T: the output does not depend on the thread count" {
	random_bytes 30000 r
	zero_bytes 30000 z
	cat r z r >in
	z4split -D bf16 -B 1000 in >in.z4
	z4plane -T 1 in.z4 >t1.z4
	local t
	for t in 0 2 3 16; do
		z4plane -T "$t" in.z4 | cmp - t1.z4
	done
	z4plane --threads=4 <in.z4 | cmp - t1.z4
	z4cat t1.z4 | cmp - in
	run -2 --separate-stderr z4plane -T 257 in.z4
	[ "$stderr" = "z4plane: bad thread count '257'" ]
	run -2 --separate-stderr z4plane -T x in.z4
	[ "$stderr" = "z4plane: bad thread count 'x'" ]
}

@test "z4plane: running it twice changes nothing" {
	mk_safetensors st
	z4split -B 8 st | z4plane >once.z4
	z4plane once.z4 >twice.z4
	cmp once.z4 twice.z4
}

@test "z4plane: -1 and -9 are accepted and round-trip" {
	mk_safetensors st
	z4split st >st.z4
	z4plane -1 st.z4 | z4cat | cmp - st
	z4plane -9 st.z4 | z4cat | cmp - st
	z4plane -9 <st.z4 | z4cat | cmp - st
}

@test "z4plane: concatenated streams stay separate streams" {
	mk_safetensors st
	random_bytes 3000 r
	z4split st >a.z4
	z4split -D bf16 -B 1000 r >b.z4
	cat a.z4 b.z4 a.z4 | z4plane >all.z4
	cat st r st | cmp - <(z4cat all.z4)
	run -0 --separate-stderr z4info -j all.z4
	[[ $output == *'"streams": 3'* ]]
	# Each stream keeps its own index: random access finds every tensor.
	z4cat -n w.bool all.z4 | cmp - <(st_tensor_bytes st 14)
	# z4plane of concatenation == concatenation of z4plane.
	cat <(z4plane a.z4) <(z4plane b.z4) <(z4plane a.z4) | cmp - all.z4
}

@test "z4plane -o: writes the file; existing output refused without -f" {
	mk_safetensors st
	z4split st >st.z4
	run -0 --separate-stderr z4plane -o out.z4 st.z4
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	z4cat out.z4 | cmp - st
	run -2 --separate-stderr z4plane -o out.z4 st.z4
	[ "$stderr" = "z4plane: 'out.z4' already exists (use -f to overwrite)" ]
	echo junk >out.z4
	run -0 --separate-stderr z4plane -f -o out.z4 st.z4
	z4cat out.z4 | cmp - st
	assert_no_tmp
}

@test "z4plane: damaged input is exit 1, one line, no output file left" {
	mk_safetensors st
	z4split st >st.z4
	assert_damage_refused z4plane st.z4
}

@test "z4plane: not a z4 stream" {
	mk_safetensors st
	run -1 --separate-stderr z4plane -c st
	[ "$stderr" = "z4plane: 'st': stream header: not a z4 stream (bad magic)" ]
	: >empty
	run -1 --separate-stderr z4plane -c empty
	[ "$stderr" = "z4plane: 'empty': stream header: unexpected end of input" ]
	run -1 --separate-stderr z4plane -c <empty
	[ "$stderr" = "z4plane: '(stdin)': stream header: unexpected end of input" ]
}

@test "z4plane: trailing garbage after a stream is an error" {
	random_bytes 100 in
	z4split in >in.z4
	{
		cat in.z4
		printf 'garbage'
	} >g.z4
	run -1 --separate-stderr z4plane -c g.z4
	[ "$stderr" = "z4plane: 'g.z4': stream 2, stream header: not a z4 stream (bad magic)" ]
}

@test "z4plane: a missing input is a system error" {
	run -3 --separate-stderr z4plane -c nonexistent
	[ "$stderr" = "z4plane: cannot read 'nonexistent': No such file or directory" ]
	[ "$output" = "" ]
}

@test "z4plane: usage errors, -h and -V" {
	usage_text z4plane
	[[ $USAGE == *"[-1..-9]"* && $USAGE == *"-o file"* ]]
	run -2 --separate-stderr z4plane -x
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "z4plane: invalid option -- 'x'" ]
	[ "$stderr" = "${stderr_lines[0]}"$'\n'"$USAGE" ]
	run -2 --separate-stderr z4plane a b
	[ "$stderr" = "$USAGE" ]
	run -0 --separate-stderr z4plane -h
	[ "$output" = "$USAGE" ]
	[ "$stderr" = "" ]
	run -0 --separate-stderr z4plane -V
	[ "$output" = "z4plane 0.1.0 (libz4 0.1.0, format 0.8)" ]
}

@test "z4plane: a write error is exit 3" {
	[ -w /dev/full ] || skip "no /dev/full"
	random_bytes 1000 in
	z4split in >in.z4
	run -3 --separate-stderr to_full z4plane in.z4
	[ "$stderr" = "z4plane: '(stdout)': write: No space left on device" ]
}

needs_script() {
	command -v script >/dev/null || skip "script (util-linux) is missing"
	script -qec true /dev/null </dev/null >/dev/null 2>&1 ||
		skip "script cannot allocate a pseudo-terminal"
}

@test "z4plane: refuses to write frames to a terminal" {
	needs_script
	random_bytes 100 f
	z4split f >f.z4
	run -2 script -qec "z4plane f.z4" /dev/null </dev/null
	[[ $output == *"z4plane: refusing to write frames to a terminal (use -c or -f)"* ]]
	run -0 script -qec "z4plane -c f.z4 >/dev/null" /dev/null </dev/null
}

@test "z4plane: refuses to read frames from a terminal" {
	needs_script
	run -2 script -qec "z4plane -o out.z4" /dev/null </dev/null
	[[ $output == *"z4plane: refusing to read frames from a terminal (use -f)"* ]]
	[ ! -e out.z4 ]
}

#!/usr/bin/env bats
# z4cat: frame streams -> original bytes; -t tests; -n extracts a tensor.

load helper

# ------------------------------------------------------------ round trips

@test "z4cat: file, stdin, '-' and -o give the original" {
	mk_safetensors st
	z4split st >st.z4
	z4cat st.z4 | cmp - st
	z4cat <st.z4 | cmp - st
	z4cat - <st.z4 | cmp - st
	z4cat -c st.z4 | cmp - st
	run -0 --separate-stderr z4cat -o out st.z4
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	cmp out st
	assert_no_tmp
}

@test "z4cat: every round-trip case through stored and coded streams" {
	stored_and_coded() {
		z4split "${RT_OPTS[@]}" "$RT_FILE" >s.z4
		z4cat s.z4 | cmp - "$RT_FILE"
		z4ai compress -c "${RT_OPTS[@]}" "$RT_FILE" | z4cat | cmp - "$RT_FILE"
	}
	each_rt_case stored_and_coded
}

@test "z4cat: streams of formats 0.5, 0.6 and 0.7 decode, whole and by tensor" {
	# Made by formats 0.5 to 0.7: a checkpoint with a repeated tensor,
	# and an archive of it and a later step coded as a delta from it.
	local o=$BATS_TEST_DIRNAME/golden/v0.5 v g
	slice "$o/model.safetensors" 2688 1024 >w1
	for v in 0.5 0.6 0.7; do
		g=$BATS_TEST_DIRNAME/golden/v$v
		[ "$(head -c 6 "$g/model.z4" | od -An -tx1 | tr -d ' ')" = \
			"895a340a00$(printf %02x "${v#0.}")" ]
		z4cat "$g/model.z4" | cmp - "$o/model.safetensors"
		z4ai test "$g/model.z4"
		z4cat -n layer.1.weight "$g/model.z4" | cmp - w1
		z4cat -m run/step1.safetensors "$g/run.z4a" |
			cmp - "$o/model.safetensors"
		z4cat -m run/step2.safetensors "$g/run.z4a" |
			cmp - "$o/step2.safetensors"
		z4cat -m run/step2.safetensors -n layer.1.weight "$g/run.z4a" |
			cmp - w1
		z4cat "$g/run.z4a" | tar xOf - run/step2.safetensors |
			cmp - "$o/step2.safetensors"
		run -0 --separate-stderr z4info "$g/model.z4"
		[[ $output == *"ref          layer.1.weight"* ]]
	done
}

@test "z4cat: cat a.z4 b.z4 | z4cat is the concatenation of the originals" {
	mk_safetensors st
	random_bytes 1001 r
	: >empty
	z4split st >a.z4
	z4ai compress -c -D f32 -B 100 r >b.z4
	z4split empty >e.z4
	cat a.z4 b.z4 | z4cat | cmp - <(cat st r)
	cat b.z4 a.z4 | z4cat | cmp - <(cat r st)
	cat e.z4 a.z4 e.z4 e.z4 b.z4 e.z4 | z4cat | cmp - <(cat st r)
	cat e.z4 e.z4 | z4cat | cmp - empty
	cat a.z4 a.z4 a.z4 >aaa.z4
	z4cat aaa.z4 | cmp - <(cat st st st)
	z4cat -t aaa.z4
}

@test "z4cat: several FILE operands are decoded in turn" {
	mk_safetensors st
	random_bytes 1001 r
	z4split st >a.z4
	z4ai compress -c r >b.z4
	z4cat a.z4 b.z4 a.z4 | cmp - <(cat st r st)
	z4cat -o out a.z4 b.z4
	cmp out <(cat st r)
	z4cat a.z4 - b.z4 <b.z4 | cmp - <(cat st r r)
	cat a.z4 b.z4 >ab.z4
	z4cat ab.z4 b.z4 | cmp - <(cat st r r)
}

@test "z4cat: a bad second operand fails; -o leaves no file" {
	mk_safetensors st
	z4split st >a.z4
	printf 'not z4 at all' >bad.z4
	run -1 --separate-stderr z4cat -o out a.z4 bad.z4 a.z4
	[ "$stderr" = "z4cat: 'bad.z4': stream header: not a z4 stream (bad magic)" ]
	[ ! -e out ]
	assert_no_tmp
	run -3 --separate-stderr z4cat -o out a.z4 missing.z4
	[ "$stderr" = "z4cat: cannot read 'missing.z4': No such file or directory" ]
	[ ! -e out ]
	assert_no_tmp
}

@test "z4cat -o: an existing output is refused without -f" {
	random_bytes 100 r
	z4split r >r.z4
	echo keep >out
	run -2 --separate-stderr z4cat -o out r.z4
	[ "$stderr" = "z4cat: 'out' already exists (use -f to overwrite)" ]
	[ "$(cat out)" = keep ]
	run -0 --separate-stderr z4cat -f -o out r.z4
	cmp out r
}

# ---------------------------------------------------------------- -t

@test "z4cat -t: exit 0 on good streams, nothing on stdout" {
	mk_safetensors st
	z4split st >a.z4
	z4ai compress -c st >b.z4
	run -0 --separate-stderr z4cat -t a.z4
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	run -0 --separate-stderr z4cat -t a.z4 b.z4
	[ "$output" = "" ]
	z4cat -t <b.z4 >out
	[ ! -s out ]
	run -0 --separate-stderr z4cat --test b.z4
	[ "$output" = "" ]
}

@test "z4cat -t: exit 1 on a damaged stream" {
	mk_safetensors st
	z4ai compress -c st >b.z4
	local n
	n=$(fsize b.z4)
	head -c $((n - 10)) b.z4 >cut.z4
	run -1 --separate-stderr z4cat -t cut.z4
	[ "$output" = "" ]
	assert_data_error z4cat cut.z4
	cp b.z4 flip.z4
	flip_bit flip.z4 $((n / 2)) 6
	run -1 --separate-stderr z4cat -t flip.z4
	[ "$output" = "" ]
	assert_data_error z4cat flip.z4
	# The first failure stops the run.
	run -1 --separate-stderr z4cat -t b.z4 cut.z4 b.z4
	assert_data_error z4cat cut.z4
}

@test "z4cat -t -o: a usage error" {
	random_bytes 10 r
	z4split r >r.z4
	run -2 --separate-stderr z4cat -t -o out r.z4
	[ "$stderr" = "z4cat: -t writes nothing: -o makes no sense with it" ]
	[ ! -e out ]
}

# ---------------------------------------------------------------- -n

@test "z4cat -n: exact bytes of every tensor, seekable file" {
	mk_safetensors st
	z4split st >a.z4
	z4ai compress -c -B 4 st >b.z4
	local i
	for i in "${!ST_NAMES[@]}"; do
		echo "# tensor ${ST_NAMES[i]}"
		st_tensor_bytes st "$i" >exp
		[ "$(fsize exp)" -eq "${ST_SIZES[i]}" ]
		z4cat -n "${ST_NAMES[i]}" a.z4 >got
		cmp exp got
		z4cat --name="${ST_NAMES[i]}" b.z4 >got
		cmp exp got
	done
}

@test "z4cat -n: exact bytes of every tensor, through a pipe" {
	mk_safetensors st
	z4split st >a.z4
	z4ai compress -c -B 4 st >b.z4
	local i
	for i in "${!ST_NAMES[@]}"; do
		echo "# tensor ${ST_NAMES[i]}"
		st_tensor_bytes st "$i" >exp
		cat a.z4 | z4cat -n "${ST_NAMES[i]}" >got
		cmp exp got
		cat b.z4 | z4cat -n "${ST_NAMES[i]}" >got
		cmp exp got
	done
}

@test "z4cat -n: a regular file on stdin is read by the index" {
	mk_safetensors_big big $((1 << 20))
	z4split big >big.z4
	run -0 --separate-stderr z4cat -v -n a.small -o out <big.z4
	slice big "$ST_DATA_START" 16 | cmp - out
	[[ ${stderr_lines[0]} =~ ^z4cat:\ \'\(stdin\)\':\ read\ ([0-9]+)\ of\ ([0-9]+)\ bytes$ ]]
	((BASH_REMATCH[1] < 4096))
	# Through a pipe it has to read it all.
	run -0 --separate-stderr from_pipe big.z4 z4cat -n a.small -o out2
	cmp out out2
}

@test "z4cat -n: -o writes the tensor to a file" {
	mk_safetensors st
	z4split st >a.z4
	run -0 --separate-stderr z4cat -n w.f64 -o out a.z4
	[ "$output" = "" ]
	st_tensor_bytes st 0 | cmp - out
}

@test "z4cat -n: a missing name is exit 1 'no such tensor'" {
	mk_safetensors st
	z4split st >a.z4
	run -1 --separate-stderr z4cat -n nope a.z4
	[ "$output" = "" ]
	[ "$stderr" = "z4cat: 'a.z4': tensor 'nope': no such tensor" ]
	run -1 --separate-stderr z4cat -n nope <a.z4
	[ "$stderr" = "z4cat: '(stdin)': tensor 'nope': no such tensor" ]
	run -1 --separate-stderr from_pipe a.z4 z4cat -n nope
	[ "$stderr" = "z4cat: '(stdin)': tensor 'nope': no such tensor" ]
	# A prefix of a name is not the name.
	run -1 --separate-stderr z4cat -n w.f6 a.z4
	[ "$stderr" = "z4cat: 'a.z4': tensor 'w.f6': no such tensor" ]
	# Raw streams have no named tensors.
	random_bytes 10 r
	z4split -D bf16 r >r.z4
	run -1 --separate-stderr z4cat -n x r.z4
	[ "$stderr" = "z4cat: 'r.z4': tensor 'x': no such tensor" ]
	run -1 --separate-stderr z4cat -n nope -o out a.z4
	[ ! -e out ]
	assert_no_tmp
}

@test "z4cat -n: the first stream holding the name wins" {
	mk_safetensors st
	z4split st >a.z4
	printf 'ABCD' >d
	st_assemble b '{"w.f32":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' d
	z4split b >b.z4
	cat b.z4 a.z4 >ba.z4
	cat a.z4 b.z4 >ab.z4
	[ "$(z4cat -n w.f32 ba.z4)" = ABCD ]
	[ "$(cat ba.z4 | z4cat -n w.f32)" = ABCD ]
	st_tensor_bytes st 1 >exp
	z4cat -n w.f32 ab.z4 | cmp - exp
	cat ab.z4 | z4cat -n w.f32 | cmp - exp
	# A name only in the second stream is found too.
	z4cat -n w.bool ba.z4 | cmp - <(st_tensor_bytes st 14)
	cat ba.z4 | z4cat -n w.bool | cmp - <(st_tensor_bytes st 14)
}

@test "z4cat -n -v: random access reads only what it needs" {
	mk_safetensors_big big $((4 << 20))
	z4split big >big.z4
	local m
	m=$(fsize big.z4)
	run -0 --separate-stderr z4cat -v -n a.small -o small big.z4
	slice big "$ST_DATA_START" 16 | cmp - small
	[[ ${stderr_lines[0]} =~ ^z4cat:\ \'big\.z4\':\ read\ ([0-9]+)\ of\ ([0-9]+)\ bytes$ ]]
	local n=${BASH_REMATCH[1]}
	[ "${BASH_REMATCH[2]}" -eq "$m" ]
	# A few hundred bytes of trailer, index and one frame, not 4 MiB.
	((n < 4096))
	run -0 --separate-stderr z4cat -v -n c.tail -o tail big.z4
	slice big $((ST_DATA_START + 16 + (4 << 20))) 8 | cmp - tail
	[[ ${stderr_lines[0]} =~ read\ ([0-9]+)\ of ]]
	((BASH_REMATCH[1] < 4096))
	# The big one needs its own frames, and not much more.
	run -0 --separate-stderr z4cat -v -n b.big -o bigt big.z4
	slice big $((ST_DATA_START + 16)) $((4 << 20)) | cmp - bigt
	[[ ${stderr_lines[0]} =~ read\ ([0-9]+)\ of ]]
	((BASH_REMATCH[1] >= (4 << 20) && BASH_REMATCH[1] < m))
}

@test "z4cat -n -v: the pipe case does not claim a size of 0" {
	mk_safetensors st
	z4split st >a.z4
	run -0 --separate-stderr from_pipe a.z4 z4cat -v -n w.f32 -o out
	[[ $stderr == "z4cat: '(stdin)': read "* ]]
	[[ $stderr != *" of 0 bytes" ]]
}

@test "z4cat -n: damaged random access is exit 1" {
	mk_safetensors st
	z4split st >a.z4
	local n
	n=$(fsize a.z4)
	head -c $((n - 1)) a.z4 >cut.z4
	run -1 --separate-stderr z4cat -n w.f32 cut.z4
	assert_data_error z4cat cut.z4
	[[ $stderr == *": bad trailer" ]]
	{
		cat a.z4
		printf 'x'
	} >long.z4
	run -1 --separate-stderr z4cat -n w.f32 long.z4
	assert_data_error z4cat long.z4
	# Damage inside the tensor's own frames is caught by its checksums.
	local off
	st_tensor_bytes st 0 >t0
	off=$(find_bytes a.z4 t0)
	cp a.z4 flip.z4
	flip_bit flip.z4 $((off + 3)) 2
	run -1 --separate-stderr z4cat -n w.f64 flip.z4
	assert_data_error z4cat flip.z4
	[ "$output" = "" ]
	run -1 --separate-stderr from_pipe flip.z4 z4cat -n w.f64
	assert_data_error z4cat '(stdin)'
}

@test "z4cat -t -n: checks one tensor, writes nothing" {
	mk_safetensors st
	z4split st >a.z4
	run -0 --separate-stderr z4cat -t -n w.f64 a.z4
	[ "$output" = "" ]
	[ "$stderr" = "" ]
}

@test "z4cat -t -n: a tensor larger than the output buffer" {
	mk_safetensors_big big $((1 << 20))
	z4split big >big.z4
	run -0 --separate-stderr z4cat -t -n b.big big.z4
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	run -0 --separate-stderr from_pipe big.z4 z4cat -t -n b.big
	[ "$output" = "" ]
}

# ------------------------------------------------------------- damage

@test "z4cat: empty input is 'unexpected end of input'" {
	: >empty
	run -1 --separate-stderr z4cat empty
	[ "$output" = "" ]
	[ "$stderr" = "z4cat: 'empty': stream header: unexpected end of input" ]
	run -1 --separate-stderr z4cat <empty
	[ "$stderr" = "z4cat: '(stdin)': stream header: unexpected end of input" ]
	run -1 --separate-stderr z4cat -t empty
	[ "$stderr" = "z4cat: 'empty': stream header: unexpected end of input" ]
}

@test "z4cat: bad magic" {
	mk_safetensors st
	run -1 --separate-stderr z4cat st
	[ "$output" = "" ]
	[ "$stderr" = "z4cat: 'st': stream header: not a z4 stream (bad magic)" ]
	printf 'Z4' >two
	run -1 --separate-stderr z4cat two
	[ "$stderr" = "z4cat: 'two': stream header: not a z4 stream (bad magic)" ]
	# Every byte of the magic matters.
	random_bytes 10 r
	z4split r >r.z4
	local k
	for k in 0 1 2 3; do
		cp r.z4 m.z4
		flip_bit m.z4 "$k" 5
		run -1 --separate-stderr z4cat m.z4
		[ "$stderr" = "z4cat: 'm.z4': stream header: not a z4 stream (bad magic)" ]
	done
	# CRLF translation of the final LF is caught.
	{
		head -c 3 r.z4
		printf '\r'
		tail -c +4 r.z4
	} >crlf.z4
	run -1 --separate-stderr z4cat crlf.z4
	[ "$stderr" = "z4cat: 'crlf.z4': stream header: not a z4 stream (bad magic)" ]
}

@test "z4cat: an unsupported version is rejected" {
	random_bytes 10 r
	z4split r >r.z4
	# Version 0.9 with a correct header checksum cannot be made without
	# XXH3 here; a changed version byte fails the header checksum.
	cp r.z4 v.z4
	put_byte v.z4 5 9
	run -1 --separate-stderr z4cat v.z4
	assert_data_error z4cat v.z4
	[[ $stderr == "z4cat: 'v.z4': stream header: "* ]]
}

@test "z4cat: trailing garbage after a valid stream" {
	random_bytes 100 r
	z4split r >r.z4
	{
		cat r.z4
		printf 'garbage\n'
	} >g.z4
	run -1 --separate-stderr z4cat g.z4
	[ "$stderr" = "z4cat: 'g.z4': stream 2, stream header: not a z4 stream (bad magic)" ]
	{
		cat r.z4
		printf '\211'
	} >g1.z4
	run -1 --separate-stderr z4cat g1.z4
	assert_data_error z4cat g1.z4
	# Trailing zeros too.
	{
		cat r.z4
		head -c 100 /dev/zero
	} >gz.z4
	run -1 --separate-stderr z4cat -t gz.z4
	assert_data_error z4cat gz.z4
	# A truncated second stream.
	{
		cat r.z4
		head -c 20 r.z4
	} >g2.z4
	run -1 --separate-stderr z4cat g2.z4
	assert_data_error z4cat g2.z4
	[[ $stderr == "z4cat: 'g2.z4': stream 2, "* ]]
}

@test "z4cat: the damage-test streams are what the loops expect" {
	mk_small small.z4
	z4cat small.z4 | cmp - small.z4.orig
	# Cut after the first stream, the file is one whole stream.
	head -c "$SMALL_CUT" small.z4 | z4cat | cmp - <(head -c 60 small.z4.orig)
	run -0 --separate-stderr z4info -j small.z4
	[[ $output == *'"streams": 2'* ]]
	# Stored and entropy-coded planes, glue and a tensor of three chunks.
	[[ $output == *'"chain": "'*stored*'"'* ]]
	[[ $output != *'"chain": "stored"'* ]]
	[[ $output == *'"glue": {"original": 60,'* ]]
	(($(fsize small.z4) < 600))
	mk_planes planes.z4
	z4cat planes.z4 | cmp - planes.z4.orig
	run -0 --separate-stderr z4info -j -v planes.z4
	# The frame is split into two planes.
	[[ $output == *'"planes": [{'*'}, {'*'}]'* ]]
}

@test "z4cat: truncation at every offset is exit 1 with one line" {
	mk_small small.z4
	run -0 truncate_loop small.z4 z4cat
	echo "$output"
	[ "$output" = "" ]
}

@test "z4cat: a flipped bit in every byte is exit 1 with one line" {
	mk_small small.z4
	run -0 flip_loop small.z4 1 0 z4cat
	echo "$output"
	[ "$output" = "" ]
}

@test "z4cat: flipped bits in a stream of byte planes are exit 1" {
	mk_planes planes.z4
	# Every byte of the first 150 (headers, plane table, coder tables),
	# then every 19th.
	FLIP_ALL=150 FLIP_STEP=19 run -0 flip_loop planes.z4 1 3 z4cat -t
	echo "$output"
	[ "$output" = "" ]
	TRUNC_STEP=41 run -0 truncate_loop planes.z4 z4cat -t
	echo "$output"
	[ "$output" = "" ]
}

# ------------------------------------------------------------- misc

@test "z4cat: a missing input is a system error" {
	run -3 --separate-stderr z4cat nonexistent
	[ "$output" = "" ]
	[ "$stderr" = "z4cat: cannot read 'nonexistent': No such file or directory" ]
}

@test "z4cat: a directory is a system error" {
	mkdir d
	run -3 --separate-stderr z4cat d
	assert_one_error_line "z4cat: 'd': "
	[[ $stderr == *"Is a directory" ]]
}

@test "z4cat: usage errors, -h and -V" {
	usage_text z4cat
	[[ $USAGE == *"-n name"* && $USAGE == *"-o file"* && $USAGE == *t* ]]
	run -2 --separate-stderr z4cat -x
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "z4cat: invalid option -- 'x'" ]
	[ "$stderr" = "${stderr_lines[0]}"$'\n'"$USAGE" ]
	run -2 --separate-stderr z4cat -n
	[ "${stderr_lines[0]}" = "z4cat: option requires an argument -- 'n'" ]
	[ "$stderr" = "${stderr_lines[0]}"$'\n'"$USAGE" ]
	run -0 --separate-stderr z4cat -h
	[ "$output" = "$USAGE" ]
	[ "$stderr" = "" ]
	run -0 --separate-stderr z4cat -V
	[ "$output" = "z4cat 0.1.0 (libz4 0.1.0, format 0.8)" ]
	run -2 --separate-stderr z4cat -T 257 /dev/null
	[ "$stderr" = "z4cat: bad thread count '257'" ]
}

@test "z4cat -T: any thread count gives the same bytes" {
	mk_mixed in
	z4ai compress -B 512 -c in >in.z4
	local t
	for t in 0 1 2 7; do
		z4cat -T "$t" in.z4 | cmp - in
		z4cat --threads="$t" <in.z4 | cmp - in
	done
}

@test "z4cat: a write error is exit 3" {
	[ -w /dev/full ] || skip "no /dev/full"
	mk_safetensors st
	z4split st >st.z4
	run -3 --separate-stderr to_full z4cat st.z4
	[ "$stderr" = "z4cat: '(stdout)': write: No space left on device" ]
	run -3 --separate-stderr to_full z4cat -n w.f64 st.z4
	assert_one_error_line "z4cat: "
	[[ $stderr == *"No space left on device" ]]
}

@test "z4cat: refuses to read frames from a terminal without -f" {
	command -v script >/dev/null || skip "script (util-linux) is missing"
	script -qec true /dev/null </dev/null >/dev/null 2>&1 ||
		skip "script cannot allocate a pseudo-terminal"
	run -2 script -qec "z4cat" /dev/null </dev/null
	[[ $output == *"z4cat: refusing to read frames from a terminal (use -f)"* ]]
	run -2 script -qec "z4cat -t -" /dev/null </dev/null
	[[ $output == *"z4cat: refusing to read frames from a terminal (use -f)"* ]]
}

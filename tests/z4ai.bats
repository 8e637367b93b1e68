#!/usr/bin/env bats
# z4ai: compress, decompress, info and test, with the manners of gzip.

load helper


# --------------------------------------------------------- round trips

@test "z4ai compress/decompress: every round-trip case is exact" {
	files_both_ways() {
		cp "$RT_FILE" work
		z4ai compress "${RT_OPTS[@]}" work
		cmp work "$RT_FILE"
		rm work
		z4ai decompress work.z4
		cmp work "$RT_FILE"
		rm work work.z4
	}
	each_rt_case files_both_ways
}

@test "z4ai compress -c | z4cat, and stdin to stdout both ways" {
	pipes_both_ways() {
		z4ai compress -c "${RT_OPTS[@]}" "$RT_FILE" | z4cat | cmp - "$RT_FILE"
		z4ai compress "${RT_OPTS[@]}" <"$RT_FILE" | z4ai decompress |
			cmp - "$RT_FILE"
	}
	each_rt_case pipes_both_ways
}

@test "z4ai decompress reads what z4split and z4plane write" {
	mk_safetensors st
	z4split -B 16 st >a.z4
	z4split st | z4plane >b.z4
	z4ai decompress a.z4
	cmp a st
	z4ai decompress -c b.z4 | cmp - st
}

@test "z4ai: -1 and -9 are accepted" {
	mk_safetensors st
	zero_bytes 20000 zeros
	local l
	for l in 1 9; do
		z4ai compress "-$l" -o "st$l.z4" st
		z4ai decompress -c "st$l.z4" | cmp - st
		z4ai compress "-$l" -D f32 -o "zeros$l.z4" zeros
		z4ai decompress -c "zeros$l.z4" | cmp - zeros
		(($(fsize "zeros$l.z4") < 2000))
	done
	z4ai compress -1 -9 -c st | cmp - st9.z4
}

@test "z4ai compress -T: the output does not depend on the thread count" {
	mk_mixed in
	z4ai compress -T 1 -B 512 -c in >t1.z4
	local t
	for t in 0 2 5; do
		z4ai compress -T "$t" -B 512 -c in | cmp - t1.z4
	done
	z4ai decompress -c t1.z4 | cmp - in
	run -2 --separate-stderr z4ai compress -T 257 -c in
	[ "$stderr" = "z4ai: bad thread count '257'" ]
	[ "$output" = "" ]
}

@test "z4ai decompress -T: bytes, errors and their places as on one thread" {
	mk_mixed in
	z4ai compress -B 512 -c in >good.z4
	local t
	for t in 0 2 5; do
		z4ai decompress -T "$t" -c good.z4 | cmp - in
	done
	# Damage at offsets all over the stream: cut there, or a byte
	# changed; one thread and three must fail alike.
	local size at n=0 s1 s3
	size=$(fsize good.z4)
	for ((at = 17; at < size; at += size / 37 + 1)); do
		head -c "$at" good.z4 >bad.z4
		cp good.z4 flip.z4
		put_byte flip.z4 "$at" 0x5a
		local f
		for f in bad.z4 flip.z4; do
			s1=0 s3=0
			z4ai decompress -T 1 -c "$f" >o1 2>e1 || s1=$?
			z4ai decompress -T 3 -c "$f" >o3 2>e3 || s3=$?
			[ "$s1" = "$s3" ]
			cmp e1 e3
			cmp o1 o3
		done
		n=$((n + 1))
	done
	((n > 30))
}

# ------------------------------------------------------- file handling

@test "z4ai compress writes FILE.z4 and keeps FILE" {
	mk_safetensors st
	cp st orig
	run -0 --separate-stderr z4ai compress st
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	[ -f st.z4 ]
	cmp st orig
	z4cat st.z4 | cmp - orig
	z4ai compress -c st | cmp - st.z4
	assert_no_tmp
}

@test "z4ai decompress strips .z4 and keeps FILE.z4" {
	mk_safetensors st
	z4ai compress -c st >model.z4
	run -0 --separate-stderr z4ai decompress model.z4
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	cmp model st
	[ -f model.z4 ]
	assert_no_tmp
}

@test "z4ai: several operands, each to its own file" {
	random_bytes 100 a
	random_bytes 200 b
	z4ai compress a b
	rm -f a b
	z4ai decompress a.z4 b.z4
	[ "$(fsize a)" -eq 100 ]
	[ "$(fsize b)" -eq 200 ]
}

@test "z4ai -o: one output; several inputs become streams back to back" {
	mk_safetensors st
	random_bytes 1001 r
	run -0 --separate-stderr z4ai compress -o out.z4 st
	z4cat out.z4 | cmp - st
	z4ai compress -o both.z4 st r
	z4cat both.z4 | cmp - <(cat st r)
	run -0 --separate-stderr z4info -j both.z4
	[[ $output == *'"streams": 2'* ]]
	z4ai decompress -o back both.z4
	cmp back <(cat st r)
	z4ai decompress -o twice out.z4 both.z4
	cmp twice <(cat st st r)
	# -o on decompress ignores the suffix rule.
	cp out.z4 weird.name
	z4ai decompress -o plain weird.name
	cmp plain st
	z4ai compress -o - st | z4cat | cmp - st
	assert_no_tmp
}

@test "z4ai -c: to stdout, no file made" {
	random_bytes 100 r
	z4ai compress -c r >r.out
	[ ! -e r.z4 ]
	cp r.out r.z4
	z4ai decompress -c r.z4 | cmp - r
	z4ai decompress --stdout r.z4 | cmp - r
	[ "$(ls | sort | tr '\n' ' ')" = "r r.out r.z4 " ]
}

@test "z4ai --rm / -R removes the input after success" {
	random_bytes 100 a
	cp a a.orig
	z4ai compress --rm a
	[ ! -e a ]
	[ -f a.z4 ]
	z4ai decompress -R a.z4
	[ ! -e a.z4 ]
	cmp a a.orig
	z4ai compress -R -o one.z4 a
	[ ! -e a ]
	z4ai decompress --rm -o a one.z4
	[ ! -e one.z4 ]
	cmp a a.orig
}

@test "z4ai --rm keeps the input when it fails" {
	random_bytes 100 a
	z4ai compress -c a >a.z4
	flip_bit a.z4 40 1
	run -1 --separate-stderr z4ai decompress -R -o out a.z4
	[ -f a.z4 ]
	[ ! -e out ]
	rm a
	run -1 --separate-stderr z4ai decompress --rm a.z4
	[ -f a.z4 ]
	[ ! -e a ]
	random_bytes 10 b
	echo keep >b.z4
	run -2 --separate-stderr z4ai compress -R b
	[ -f b ]
	assert_no_tmp
}

@test "z4ai: an existing output is refused without -f, overwritten with -f" {
	random_bytes 100 a
	echo keep >a.z4
	run -2 --separate-stderr z4ai compress a
	[ "$output" = "" ]
	[ "$stderr" = "z4ai: 'a.z4' already exists (use -f to overwrite)" ]
	[ "$(cat a.z4)" = keep ]
	[ -f a ]
	run -0 --separate-stderr z4ai compress -f a
	z4cat a.z4 | cmp - a
	cp a a.orig
	run -2 --separate-stderr z4ai decompress a.z4
	[ "$stderr" = "z4ai: 'a' already exists (use -f to overwrite)" ]
	echo other >a
	run -0 --separate-stderr z4ai decompress --force a.z4
	cmp a a.orig
	echo keep >o.z4
	run -2 --separate-stderr z4ai compress -o o.z4 a
	[ "$stderr" = "z4ai: 'o.z4' already exists (use -f to overwrite)" ]
	[ "$(cat o.z4)" = keep ]
	assert_no_tmp
}

@test "z4ai: the output keeps the input's mode and mtime" {
	random_bytes 1000 a
	chmod 640 a
	touch -d '2001-02-03 04:05:06' a
	z4ai compress a
	[ "$(stat -c %a a.z4)" = 640 ]
	[ "$(stat -c %Y a.z4)" = "$(stat -c %Y a)" ]
	mv a a.orig
	chmod 604 a.z4
	touch -d '2010-01-01 00:00:01' a.z4
	z4ai decompress a.z4
	[ "$(stat -c %a a)" = 604 ]
	[ "$(stat -c %Y a)" = "$(stat -c %Y a.z4)" ]
	cmp a a.orig
	# With -o and one input, too; with -f over an existing file, too.
	chmod 600 a
	z4ai compress -o x.z4 a
	[ "$(stat -c %a x.z4)" = 600 ]
	[ "$(stat -c %Y x.z4)" = "$(stat -c %Y a)" ]
	chmod 644 x.z4
	z4ai compress -f -o x.z4 a
	[ "$(stat -c %a x.z4)" = 600 ]
}

@test "z4ai: output from a pipe gets 0666 less the umask" {
	random_bytes 100 a
	umask 027
	cat a | z4ai compress -o p.z4
	[ "$(stat -c %a p.z4)" = 640 ]
	cat a | z4ai compress | z4ai decompress -o q
	[ "$(stat -c %a q)" = 640 ]
	cmp q a
}

@test "z4ai: suffix rules are usage errors" {
	random_bytes 100 a
	z4ai compress -c a >a.z4
	cp a.z4 a.gz
	run -2 --separate-stderr z4ai decompress a.gz
	[ "$output" = "" ]
	[ "$stderr" = "z4ai: 'a.gz': unknown suffix, .z4 expected (use -o)" ]
	run -2 --separate-stderr z4ai decompress a
	[ "$stderr" = "z4ai: 'a': unknown suffix, .z4 expected (use -o)" ]
	run -2 --separate-stderr z4ai compress a.z4
	[ "$stderr" = "z4ai: 'a.z4' already has the .z4 suffix (use -o)" ]
	[ ! -e a.z4.z4 ]
	# A bad operand does not stop the others; the status is the first.
	random_bytes 10 b
	run -2 --separate-stderr z4ai compress a.z4 b
	[ -f b.z4 ]
}

@test "z4ai: a failure leaves no output file and no temporary file" {
	random_bytes 1000 a
	z4ai compress -c a >a.z4
	rm a
	flip_bit a.z4 500 4
	run -1 --separate-stderr z4ai decompress a.z4
	assert_data_error z4ai a.z4
	[ ! -e a ]
	run -1 --separate-stderr z4ai decompress -o out a.z4
	[ ! -e out ]
	mkdir d
	run -3 --separate-stderr z4ai compress d
	assert_one_error_line "z4ai: 'd': "
	[ ! -e d.z4 ]
	run -3 --separate-stderr z4ai compress -o dd.z4 d
	[ ! -e dd.z4 ]
	ls -A
	[ "$(ls -A | sort | tr '\n' ' ')" = "a.z4 d " ]
	assert_no_tmp
}

@test "z4ai: a missing input is exit 3 'cannot read'" {
	run -3 --separate-stderr z4ai compress nonexistent
	[ "$output" = "" ]
	[ "$stderr" = "z4ai: cannot read 'nonexistent': No such file or directory" ]
	run -3 --separate-stderr z4ai decompress nonexistent.z4
	[ "$stderr" = "z4ai: cannot read 'nonexistent.z4': No such file or directory" ]
	run -3 --separate-stderr z4ai test nonexistent.z4
	[ "$stderr" = "z4ai: cannot read 'nonexistent.z4': No such file or directory" ]
	ls -A
	[ "$(ls -A)" = "" ]
}

@test "z4ai: a write error is exit 3" {
	[ -w /dev/full ] || skip "no /dev/full"
	random_bytes 1000 in
	run -3 --separate-stderr to_full z4ai compress -c in
	[ "$stderr" = "z4ai: '(stdout)': write: No space left on device" ]
	z4ai compress in
	run -3 --separate-stderr to_full z4ai decompress -c in.z4
	[ "$stderr" = "z4ai: '(stdout)': write: No space left on device" ]
}

@test "z4ai -o: a failing second input leaves no output, removes nothing" {
	random_bytes 100 a
	run -3 --separate-stderr z4ai compress -R -o out.z4 a missing
	[ "$stderr" = "z4ai: cannot read 'missing': No such file or directory" ]
	[ ! -e out.z4 ]
	[ -f a ]
	assert_no_tmp
}

# ------------------------------------------------------------ info, test

@test "z4ai info: the z4info report" {
	mk_safetensors st
	z4ai compress st
	run -0 --separate-stderr z4ai info st.z4
	[ "$stderr" = "" ]
	[ "$output" = "$(z4info st.z4)" ]
	run -0 --separate-stderr z4ai info -j st.z4
	[ "$output" = "$(z4info -j st.z4)" ]
	[[ $output == *'"name": "w.bf16"'* ]]
	run -0 --separate-stderr z4ai info <st.z4
	[[ $output == *" w.bf16"* ]]
	run -1 --separate-stderr z4ai info st
	[ "$stderr" = "z4ai: 'st': stream header: not a z4 stream (bad magic)" ]
}

@test "z4ai test: exit 0 and silent on good, exit 1 on bad" {
	mk_safetensors st
	z4ai compress st
	run -0 --separate-stderr z4ai test st.z4
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	run -0 --separate-stderr z4ai test <st.z4
	[ "$output" = "" ]
	run -1 --separate-stderr z4ai test st
	[ "$output" = "" ]
	[ "$stderr" = "z4ai: 'st': stream header: not a z4 stream (bad magic)" ]
	# Every operand is tested; the status is the first failure's.
	run -1 --separate-stderr z4ai test st.z4 st st.z4
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "z4ai test: empty input, trailing garbage" {
	: >empty
	run -1 --separate-stderr z4ai test empty
	[ "$output" = "" ]
	[ "$stderr" = "z4ai: 'empty': stream header: unexpected end of input" ]
	run -1 --separate-stderr z4ai test <empty
	[ "$stderr" = "z4ai: '(stdin)': stream header: unexpected end of input" ]
	random_bytes 100 r
	z4ai compress -c r >r.z4
	{
		cat r.z4
		printf 'garbage'
	} >g.z4
	run -1 --separate-stderr z4ai test g.z4
	[ "$stderr" = "z4ai: 'g.z4': stream 2, stream header: not a z4 stream (bad magic)" ]
	run -1 --separate-stderr z4ai decompress -c g.z4
	[ "$stderr" = "z4ai: 'g.z4': stream 2, stream header: not a z4 stream (bad magic)" ]
}

# The second stream of mk_small's file (the tensor in three chunks): the
# loops of z4cat.bats run over the whole file.
mk_small_tensor() {
	mk_small small.z4
	tail -c +$((SMALL_CUT + 1)) small.z4 >tensor.z4
	unset SMALL_CUT
}

@test "z4ai test: truncation at every offset is exit 1 with one line" {
	mk_small_tensor
	run -0 truncate_loop tensor.z4 z4ai test
	echo "$output"
	[ "$output" = "" ]
}

@test "z4ai test: a flipped low bit in every byte is exit 1 with one line" {
	mk_small_tensor
	run -0 flip_loop tensor.z4 0 0 z4ai test
	echo "$output"
	[ "$output" = "" ]
}

# -------------------------------------------------------------- usage

@test "z4ai: unknown option is exit 2 with usage on stderr" {
	usage_text z4ai
	run -2 --separate-stderr z4ai compress --bogus
	[ "$output" = "" ]
	[[ ${stderr_lines[0]} == *"unrecognized option '--bogus'" ]]
	[ "$stderr" = "${stderr_lines[0]}"$'\n'"$USAGE" ]
	run -2 --separate-stderr z4ai compress -x a
	[ "$output" = "" ]
	[[ ${stderr_lines[0]} == *"invalid option -- 'x'" ]]
	[ "$stderr" = "${stderr_lines[0]}"$'\n'"$USAGE" ]
	run -2 --separate-stderr z4ai -x
	[ "${stderr_lines[0]}" = "z4ai: invalid option -- 'x'" ]
	[ "$stderr" = "${stderr_lines[0]}"$'\n'"$USAGE" ]
}

@test "z4ai: the unknown-option message names the program" {
	run -2 --separate-stderr z4ai compress --bogus
	[ "${stderr_lines[0]}" = "z4ai: unrecognized option '--bogus'" ]
}

@test "z4ai: a missing or unknown command is a usage error" {
	usage_text z4ai
	run -2 --separate-stderr z4ai
	[ "$output" = "" ]
	[ "$stderr" = "$USAGE" ]
	run -2 --separate-stderr z4ai frobnicate x
	[ "$stderr" = "z4ai: unknown command 'frobnicate'"$'\n'"$USAGE" ]
}

@test "z4ai -h: usage on stdout, exit 0" {
	usage_text z4ai
	run -0 --separate-stderr z4ai -h
	[ "$stderr" = "" ]
	[[ ${lines[0]} == "usage: z4ai compress "* ]]
	[[ ${lines[1]} == "       z4ai decompress "* ]]
	[[ ${lines[2]} == "       z4ai info "* ]]
	[[ ${lines[3]} == "       z4ai test "* ]]
	local o
	for o in 1..-9 -B -D -o R c f q; do
		[[ ${lines[0]} == *"$o"* ]]
	done
	run -0 --separate-stderr z4ai compress --help
	[ "$output" = "$USAGE" ]
}

@test "z4ai -V: version" {
	run -0 --separate-stderr z4ai -V
	[ "$output" = "z4ai 0.1.0 (libz4 0.1.0, format 0.8)" ]
	run -0 --separate-stderr z4ai compress --version
	[ "$output" = "z4ai 0.1.0 (libz4 0.1.0, format 0.8)" ]
}

@test "z4ai: bad -B and -D are usage errors" {
	random_bytes 10 a
	run -2 --separate-stderr z4ai compress -B 0 a
	[ "$stderr" = "z4ai: bad chunk size '0' (1 to 64M)" ]
	run -2 --separate-stderr z4ai compress -D nope a
	[ "$stderr" = "z4ai: unknown dtype 'nope'" ]
	[ ! -e a.z4 ]
}

# ----------------------------------------------------------- terminals

needs_script() {
	command -v script >/dev/null || skip "script (util-linux) is missing"
	script -qec true /dev/null </dev/null >/dev/null 2>&1 ||
		skip "script cannot allocate a pseudo-terminal"
}

@test "z4ai compress: refuses to write frames to a terminal" {
	needs_script
	random_bytes 100 f
	run -2 script -qec "z4ai compress <f" /dev/null </dev/null
	[[ $output == *"z4ai: refusing to write frames to a terminal (use -c or -f)"* ]]
	run -2 script -qec "z4ai compress -o - f" /dev/null </dev/null
	[[ $output == *"z4ai: refusing to write frames to a terminal (use -c or -f)"* ]]
	# To a file, the terminal does not matter.
	run -0 script -qec "z4ai compress f" /dev/null </dev/null
	z4cat f.z4 | cmp - f
}

@test "z4ai decompress: refuses to read frames from a terminal" {
	needs_script
	run -2 script -qec "z4ai decompress -o out" /dev/null </dev/null
	[[ $output == *"z4ai: refusing to read frames from a terminal (use -f)"* ]]
	[ ! -e out ]
}

# ------------------------------------------------------------- signals

# sig_mid_write SIGNAL HOW: start z4ai compress reading a FIFO that stays
# open (HOW: "file": fifo -> fifo.z4; "o": -o out.z4 fifo; "stdin":
# -o out.z4 <fifo), wait for its temporary file, send SIGNAL: it must die
# of it and leave nothing behind.  Deterministic: no race with the end.
sig_mid_write() {
	local sig=$1 how=$2 pid w i rc=0
	mkfifo fifo
	# fd 3 belongs to bats: the background job must not hold it.
	case $how in
	file) z4ai compress fifo 3>&- & ;;
	o) z4ai compress -o out.z4 fifo 3>&- & ;;
	stdin) z4ai compress -o out.z4 <fifo 3>&- & ;;
	esac
	pid=$!
	exec {w}>fifo
	head -c 300000 /dev/urandom >&"$w"
	for ((i = 0; i < 250; i++)); do
		compgen -G '*.z4.??????' >/dev/null && break
		sleep 0.02
	done
	compgen -G '*.z4.??????' >/dev/null
	kill "-$sig" "$pid"
	sleep 0.1
	exec {w}>&-
	wait "$pid" || rc=$?
	echo "# $how: status $rc"
	[ "$rc" -gt 128 ]
	rm fifo
	[ "$(ls -A)" = "" ]
}

@test "z4ai compress: SIGTERM leaves no partial file (FILE -> FILE.z4)" {
	sig_mid_write TERM file
}

@test "z4ai compress: SIGINT and SIGTERM leave no partial file (-o)" {
	sig_mid_write TERM o
	sig_mid_write INT stdin
	sig_mid_write HUP o
}

@test "z4ai compress: SIGTERM on a large input leaves no partial file" {
	head -c 64M /dev/urandom >big
	local pid rc=0
	z4ai compress -9 -o big.z4 big 3>&- &
	pid=$!
	sleep 0.1
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || rc=$?
	echo "# status $rc"
	if ((rc == 0)); then
		# It finished first: then the output must be whole.
		z4cat big.z4 | cmp - big
	else
		[ "$rc" -eq 143 ]
		[ ! -e big.z4 ]
	fi
	rm big
	rm -f big.z4
	[ "$(ls -A)" = "" ]
}

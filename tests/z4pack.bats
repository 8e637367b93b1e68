#!/usr/bin/env bats
# z4pack: tar streams of checkpoints into one archive, read back byte for
# byte, member by member and tensor by tensor.

load helper

# mk_tree: a directory as a model family might be kept, with every kind
# of tar entry: checkpoints (a base and a later one), text, an empty
# file, a long name, a symlink, a hard link, a subdirectory.
mk_tree() {
	mkdir -p run/sub
	mk_safetensors_big run/step1.safetensors 65536
	cp run/step1.safetensors run/step2.safetensors
	# A flipped bit, not a set byte: the data is random, and a byte that
	# already held the value would leave step2 equal to step1.
	flip_bit run/step2.safetensors $((ST_DATA_START + 16 + 999)) 0
	printf 'notes\n' >run/notes.txt
	printf 'read me\n' >run/readme.txt
	: >run/empty
	local long=run/sub/$(printf 'n%.0s' {1..150}).txt
	printf 'long\n' >"$long"
	ln -s notes.txt run/link
	ln run/notes.txt run/hard
	TZ=UTC touch -d '2020-01-02 03:04:05' run/notes.txt
}

@test "z4pack | z4cat gives the tar stream back, byte for byte" {
	mk_tree
	tar --format=pax --sort=name -cf run.tar run
	z4pack <run.tar >run.z4a
	z4cat run.z4a | cmp - run.tar
	z4cat <run.z4a | cmp - run.tar
	mkdir out
	z4cat run.z4a | tar -C out -xf -
	diff -r run out/run
	[ "$(readlink out/run/link)" = notes.txt ]
	[ "$(stat -c %Y out/run/notes.txt)" = "$(stat -c %Y run/notes.txt)" ]
}

@test "z4pack: ustar and GNU formats round-trip too" {
	mk_tree
	rm -f run/sub/n*
	for fmt in ustar gnu; do
		tar --format=$fmt -cf run.$fmt.tar run
		z4pack <run.$fmt.tar | z4cat | cmp - run.$fmt.tar
	done
}

@test "z4pack: the later checkpoint is stored as a delta from the earlier" {
	mk_tree
	tar --sort=name -cf run.tar run
	z4pack <run.tar >run.z4a
	run -0 --separate-stderr z4info run.z4a
	[[ $output == *"member  -               -            run/step1.safetensors"* ]]
	# step2 differs from step1 in one byte: it costs a small fraction.
	local line
	line=$(grep 'run/step2.safetensors' <<<"$output")
	local coded
	coded=$(awk '{print $2}' <<<"$line")
	((coded < 4096))
}

@test "z4cat -m: one member, seekable and piped" {
	mk_tree
	tar --sort=name -cf run.tar run
	z4pack <run.tar >run.z4a
	z4cat -m run/step2.safetensors run.z4a | cmp - run/step2.safetensors
	z4cat -m run/step2.safetensors <run.z4a | cmp - run/step2.safetensors
	z4cat -m run/readme.txt run.z4a | cmp - run/readme.txt
	z4cat -m run/empty run.z4a | cmp - run/empty
}

@test "z4cat -m -n: one tensor of one member reads little of the file" {
	mk_tree
	tar --sort=name -cf run.tar run
	z4pack <run.tar >run.z4a
	slice run/step1.safetensors $((ST_DATA_START + 65552)) 8 >want
	run -0 --separate-stderr z4cat -v -m run/step1.safetensors -n c.tail run.z4a
	[ "$output" = "$(cat want)" ] || cmp <(z4cat -m run/step1.safetensors -n c.tail run.z4a) want
	local got total
	got=$(sed -n "s/.*read \([0-9]*\) of \([0-9]*\) bytes/\1/p" <<<"$stderr")
	total=$(fsize run.z4a)
	((got * 4 < total))
}

@test "z4cat -m: a missing member is exit 1 'no such member'" {
	mk_tree
	tar -cf run.tar run
	z4pack <run.tar >run.z4a
	run -1 --separate-stderr z4cat -m nope run.z4a
	[ "$stderr" = "z4cat: 'run.z4a': member 'nope': no such member" ]
	run -1 --separate-stderr z4cat -m nope <run.z4a
	[ "$stderr" = "z4cat: '(stdin)': member 'nope': no such member" ]
}

@test "concatenated archives are an archive" {
	mk_tree
	tar --sort=name -cf a.tar run/step1.safetensors run/readme.txt
	tar --sort=name -cf b.tar run/step2.safetensors run/sub
	z4pack <a.tar >a.z4a
	z4pack <b.tar >b.z4a
	cat a.z4a b.z4a >ab.z4a
	cat a.tar b.tar | cmp - <(z4cat ab.z4a)
	z4cat -m run/step2.safetensors ab.z4a | cmp - run/step2.safetensors
	z4cat -m run/readme.txt ab.z4a | cmp - run/readme.txt
	run -0 z4info ab.z4a
	[[ $output == *"run/step1.safetensors"* && $output == *"run/step2.safetensors"* ]]
	[[ $output == *"(total, 2 streams)"* ]]
}

@test "a damaged archive: exit 1 naming the member; other members still read" {
	mk_tree
	tar --sort=name -cf run.tar run
	z4pack -K 0 <run.tar >run.z4a
	# Without deltas each checkpoint is about half the archive, step2
	# the later half: damage a byte three quarters in.
	cp run.z4a bad.z4a
	flip_bit bad.z4a $(($(fsize run.z4a) * 3 / 4)) 0
	run -1 --separate-stderr z4cat bad.z4a
	[[ $stderr == "z4cat: 'bad.z4a': member 'run/step2.safetensors', frame "* ]]
	z4cat -m run/step1.safetensors bad.z4a | cmp - run/step1.safetensors
	z4cat -m run/readme.txt bad.z4a | cmp - run/readme.txt
}

@test "a truncated archive: exit 1" {
	mk_tree
	tar -cf run.tar run
	z4pack <run.tar >run.z4a
	head -c $(($(fsize run.z4a) / 2)) run.z4a >half.z4a
	run -1 --separate-stderr z4cat half.z4a
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "z4pack -K: bad depth is a usage error" {
	run -2 --separate-stderr z4pack -K x
	[ "$stderr" = "z4pack: bad delta depth 'x' (0 to 60)" ]
}

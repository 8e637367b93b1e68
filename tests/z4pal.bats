#!/usr/bin/env bats
# z4pal: frames -> frames with palettes, grids and zero masks taken out of
# the chunks nothing has transformed, and every plane left stored.

load helper

mk_redundant() {
	"$BATS_TEST_DIRNAME/unit/mutate" --make "$1" "$2"
}

# all_stored STREAM: every plane of every tensor in STREAM is stored
# (z4info -v: a plane row's coded size equals its original size).
all_stored() {
	z4info -v "$1" | awk '
		$4 == "plane" && $1 != $2 { bad = 1; print "coded: " $0 }
		END { exit bad }'
}

@test "z4split | z4pal | z4cat: every round-trip case is exact" {
	through_pal() {
		z4split "${RT_OPTS[@]}" <"$RT_FILE" | z4pal | z4cat >out
		cmp "$RT_FILE" out
	}
	each_rt_case through_pal
}

@test "z4split | z4pal | z4plane writes what z4split | z4plane does" {
	local k l
	pal_then_plane() {
		z4split "${RT_OPTS[@]}" "$RT_FILE" >s.z4
		z4pal s.z4 | z4plane | cmp - <(z4plane s.z4)
	}
	each_rt_case pal_then_plane
	for k in planes zeros palette grid dup; do
		mk_redundant $k $k.st
		z4split $k.st >s.z4
		for l in 1 3 9; do
			echo "# $k -$l"
			z4pal "-$l" s.z4 | z4plane "-$l" | cmp - <(z4plane "-$l" s.z4)
		done
	done
}

@test "z4pal: palettes, grids and zero masks, with every plane stored" {
	local k chain
	for k in palette grid zeros; do
		mk_redundant $k $k.st
		z4split $k.st | z4pal >$k.z4
		z4cat $k.z4 | cmp - $k.st
		all_stored $k.z4
	done
	run -0 --separate-stderr z4info -j palette.z4 grid.z4 zeros.z4
	[[ $output == *'"chain": "palette+stored"'* ]]
	[[ $output == *'"chain": "grid+stored"'* ]]
	[[ $output == *'"chain": "zeros+planes+stored"'* ]]
	# Stored, the palette's indices are a byte per 2-byte element: half
	# the tensor, and its 3 values.
	z4info -v palette.z4 | grep -q '^ *512 *512 *1.000 *plane 1: 8.000 bits'
	# The grid's integers of an F32 tensor: a byte each, a quarter.
	z4info -v grid.z4 | grep -q '^ *256 *256 *1.000 *plane 1: 8.000 bits'
}

@test "z4pal: chunks with nothing to take out are copied byte for byte" {
	random_bytes 20000 r
	z4split -D bf16 -B 4096 r >r.z4
	z4pal r.z4 | cmp - r.z4
	mk_redundant planes planes.st
	z4split planes.st >p.z4
	z4pal -9 p.z4 | cmp - p.z4
	# A whole-tensor reference stays a REF frame.
	mk_redundant dup dup.st
	z4split dup.st >d.z4
	z4pal d.z4 | cmp - d.z4
	run -0 z4info d.z4
	[[ $output == *" ref "* ]]
}

@test "z4pal: coded or transformed frames are copied, and so is its output" {
	local k
	for k in palette zeros planes; do
		mk_redundant $k $k.st
		z4ai compress -q -c $k.st >$k.z4
		z4pal $k.z4 | cmp - $k.z4
		z4split $k.st | z4pal >once.z4
		z4pal once.z4 | cmp - once.z4
	done
	# Deltas against a reference: decoded on the way with -r, kept.
	mk_redundant rlbase base.st
	mk_redundant rlnext next.st
	z4split next.st | z4delta -r base.st >d.z4
	z4pal -r base.st d.z4 | cmp - d.z4
	run -1 --separate-stderr z4pal d.z4
	[[ $stderr == "z4pal: 'd.z4': frame 2 (tensor 't0'): needs a reference with tensor 't0' "*": use -r" ]]
}

@test "z4pal -T: the output does not depend on the thread count" {
	mk_redundant palette p.st
	mk_redundant grid g.st
	random_bytes 30000 r
	cat p.st r g.st >in
	z4split -D f32 -B 1024 in >in.z4
	z4split p.st >p.z4
	z4split g.st >g.z4
	cat p.z4 in.z4 g.z4 >all.z4
	z4pal -T 1 all.z4 >t1.z4
	local t
	for t in 0 2 3 16; do
		z4pal -T "$t" all.z4 | cmp - t1.z4
	done
	cat p.st in g.st | cmp - <(z4cat t1.z4)
	run -0 --separate-stderr z4info -j t1.z4
	[[ $output == *'"streams": 3'* ]]
	run -2 --separate-stderr z4pal -T 257 all.z4
	[ "$stderr" = "z4pal: bad thread count '257'" ]
}

@test "z4pal: damaged input is exit 1, one line, no output file left" {
	mk_redundant palette st
	z4split st >st.z4
	assert_damage_refused z4pal st.z4
	run -1 --separate-stderr z4pal -c st
	[ "$stderr" = "z4pal: 'st': stream header: not a z4 stream (bad magic)" ]
}

@test "z4pal -o: writes the file; existing output refused without -f" {
	mk_redundant grid st
	z4split st >st.z4
	z4pal -o out.z4 st.z4
	z4cat out.z4 | cmp - st
	run -2 --separate-stderr z4pal -o out.z4 st.z4
	[ "$stderr" = "z4pal: 'out.z4' already exists (use -f to overwrite)" ]
	z4pal -f -o out.z4 st.z4
	assert_no_tmp
}

@test "z4pal: usage errors, -h, -V and a write error" {
	usage_text z4pal
	[[ $USAGE == *"[-1..-9]"* && $USAGE == *"-o file"* ]]
	run -2 --separate-stderr z4pal -x
	[ "${stderr_lines[0]}" = "z4pal: invalid option -- 'x'" ]
	[ "$stderr" = "${stderr_lines[0]}"$'\n'"$USAGE" ]
	run -2 --separate-stderr z4pal a b
	[ "$stderr" = "$USAGE" ]
	run -0 --separate-stderr z4pal -V
	[ "$output" = "z4pal 0.1.0 (libz4 0.1.0, format 0.8)" ]
	run -3 --separate-stderr z4pal -c nonexistent
	[ "$stderr" = "z4pal: cannot read 'nonexistent': No such file or directory" ]
	[ -w /dev/full ] || skip "no /dev/full"
	random_bytes 1000 in
	z4split in >in.z4
	run -3 --separate-stderr to_full z4pal in.z4
	[ "$stderr" = "z4pal: '(stdout)': write: No space left on device" ]
}

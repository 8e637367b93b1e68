#!/usr/bin/env bats
# Every byte of small streams changed twice, and every truncation: each
# must be rejected or decode to the original, never to other bytes.  The
# streams cover every frame kind (GLUE, CHUNK, REF, MEMBER, END) and every
# transform (planes, palette, zeros, grid, delta from a file and from an
# earlier archive member), and concatenation.

load helper

mutate() {
	"$BATS_TEST_DIRNAME/unit/mutate" "$@"
}

# check_stream STREAM ORIGINAL [REF]: no mutation decodes to wrong bytes.
check_stream() {
	run -0 mutate "$@"
	[[ $output == *", 0 wrong" ]]
	echo "# $output" >&3
}

@test "mutations of each transform's stream are all caught" {
	local k
	for k in planes zeros sparse24 palette grid quant dup; do
		mutate --make $k $k.st
		z4ai compress -q -c $k.st >$k.z4
		check_stream $k.z4 $k.st
	done
	# Each kind got its transform (the chain column of z4info).
	run -0 z4info zeros.z4 palette.z4 grid.z4 quant.z4 dup.z4
	[[ $output == *zeros+planes* && $output == *palette+* ]]
	[[ $output == *grid+* && $output == *byte-model* ]]
	[[ $output == *" ref "* ]]
	# The 2:4 mask has a byte for each 4 of the 2048 elements.
	run -0 z4info -v sparse24.z4
	[[ ${lines[1]} == *zeros+planes* ]]
	[ "$(awk 'NR == 3 { print $1, $4, $5 }' <<<"$output")" = \
		"512 plane 0:" ]
}

@test "mutations of a delta stream are caught, with its reference" {
	mutate --make base base.st
	mutate --make next next.st
	z4ai compress -q -r base.st -c next.st >delta.z4
	check_stream delta.z4 next.st base.st
}

@test "mutations of an RL-like delta, modelled against the reference" {
	mutate --make rlbase base.st
	mutate --make rlnext next.st
	z4ai compress -q -r base.st -c next.st >delta.z4
	run -0 z4info -r base.st delta.z4
	[[ $output == *delta-model+* ]]
	check_stream delta.z4 next.st base.st
}

@test "mutations of a delta with its mask split by the reference (-9)" {
	# On this small synthetic pair the zero mask, split by the
	# reference's exponents, beats the model; level 9 tries both.
	mutate --make rlbase base.st
	mutate --make rlnext next.st
	z4ai compress -q -9 -r base.st -c next.st >delta.z4
	run -0 z4info -r base.st delta.z4
	[[ $output == *delta+zeros-ref+* ]]
	check_stream delta.z4 next.st base.st
}

@test "mutations of an archive (members, deltas between them) are caught" {
	mkdir run
	mutate --make base run/a.st
	mutate --make next run/b.st
	printf 'text\n' >run/c.txt
	tar --sort=name -cf run.tar run
	z4pack <run.tar >run.z4a
	run -0 z4info run.z4a
	[[ $output == *delta-model+* ]]
	check_stream run.z4a run.tar
}

@test "mutations of concatenated streams are caught" {
	mutate --make planes a.st
	mutate --make dup b.st
	z4ai compress -q -c a.st >a.z4
	z4ai compress -q -c b.st >b.z4
	cat a.z4 b.z4 >ab.z4
	cat a.st b.st >ab.st
	check_stream ab.z4 ab.st
}

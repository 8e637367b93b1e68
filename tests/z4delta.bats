#!/usr/bin/env bats
# z4delta and the -r REF options of z4ai and z4cat: checkpoints coded as
# differences from a reference, and every way the reference can be wrong.

load helper

# mk_pair: base.st (a checkpoint) and next.st, the same tensors with a
# few bytes of the big one changed, like a checkpoint a step later.
mk_pair() {
	mk_safetensors_big base.st 65536
	cp base.st next.st
	local i
	for i in 100 5000 20000 40000 60000; do
		put_byte next.st $((ST_DATA_START + 16 + i)) 0x3c
	done
}

# big_chain: the chain z4info -v gives tensor b.big of delta.z4, coded
# against base.st; fails unless there is exactly one row of it, BF16.
big_chain() {
	run -0 --separate-stderr z4info -v -r base.st delta.z4
	[ -z "$stderr" ]
	local line found=0 chain=
	for line in "${lines[@]}"; do
		read -r -a ROW <<<"$line"
		[[ ${ROW[-1]} == b.big ]] || continue
		[ "${ROW[3]}" = BF16 ]
		chain=${ROW[5]}
		found=$((found + 1))
	done
	[ "$found" -eq 1 ]
	echo "$chain"
}

@test "z4ai compress -r: a small delta, exact back with -r" {
	mk_pair
	z4ai compress -q -c next.st >intra.z4
	z4ai compress -q -r base.st -c next.st >delta.z4
	z4ai decompress -q -r base.st -c delta.z4 | cmp - next.st
	# Five changed bytes: the delta is a small fraction of intra coding.
	(($(fsize delta.z4) * 20 < $(fsize intra.z4)))
}

@test "z4ai compress -r: BF16 changes are modelled (delta-model), exact back" {
	mk_pair
	z4ai compress -q -r base.st -c next.st >delta.z4
	# Its chain: delta-model alone (then the coder of its one plane).
	local chain
	chain=$(big_chain)
	[[ $chain == delta-model+* ]]
	[[ $chain != *+*+* ]]
	z4ai decompress -q -r base.st -c delta.z4 | cmp - next.st
	z4cat -r base.st delta.z4 | cmp - next.st
}

@test "z4ai compress -1 -r: BF16 changes as XOR planes, not modelled, exact back" {
	mk_pair
	z4ai compress -q -c next.st >intra.z4
	z4ai compress -q -1 -r base.st -c next.st >delta.z4
	# Its chain: DELTA first, then more transforms.
	local chain
	chain=$(big_chain)
	[[ $chain == delta+*+* ]]
	(($(fsize delta.z4) * 20 < $(fsize intra.z4)))
	z4ai decompress -q -r base.st -c delta.z4 | cmp - next.st
	z4cat -r base.st delta.z4 | cmp - next.st
}

@test "z4ai decompress without the reference: exit 1, says what it needs" {
	mk_pair
	z4ai compress -q -r base.st -c next.st >delta.z4
	run -1 --separate-stderr z4ai decompress -c delta.z4
	[[ $stderr == "z4ai: 'delta.z4': frame "*"(tensor 'b.big'): needs a reference with tensor 'b.big' (bytes 0+65536, checksum "*"): use -r" ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "z4ai decompress with the wrong reference: exit 1, reference mismatch" {
	mk_pair
	z4ai compress -q -r base.st -c next.st >delta.z4
	cp base.st other.st
	# A bit flipped, not a byte set: random data may hold that byte already.
	flip_bit other.st $((ST_DATA_START + 16 + 7)) 4
	run -1 --separate-stderr z4ai decompress -r other.st -c delta.z4
	[[ $stderr == *"reference mismatch for tensor 'b.big': expected "*", got "* ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ -z "$output" ] || [ "$(head -c 1 <<<"$output")" != "" ]
}

@test "z4ai -r: the reference may be a .z4 stream of it" {
	mk_pair
	z4ai compress -q -c base.st >base.z4
	z4ai compress -q -r base.z4 -c next.st >delta.z4
	z4ai decompress -q -r base.z4 -c delta.z4 | cmp - next.st
	z4ai decompress -q -r base.st -c delta.z4 | cmp - next.st
}

@test "z4split | z4delta -r | z4cat -r is exact" {
	mk_pair
	z4split <next.st | z4delta -r base.st | z4cat -r base.st | cmp - next.st
}

@test "z4delta without -r is a usage error" {
	mk_pair
	run -2 --separate-stderr z4delta <next.st
	[[ $stderr == "usage: z4delta "* ]]
}

@test "z4cat -n -r: one tensor of a delta stream, seekable and piped" {
	mk_pair
	z4ai compress -q -r base.st -c next.st >delta.z4
	z4cat -r base.st -n b.big delta.z4 >got
	slice next.st $((ST_DATA_START + 16)) 65536 >want
	cmp got want
	z4cat -r base.st -n b.big <delta.z4 | cmp - want
}

@test "a reference with extra, missing, renamed and reshaped tensors" {
	mk_pair
	# The target renames a.small, reshapes c.tail and adds d.new.
	local json='{"a.renamed":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
	json+='"b.big":{"dtype":"BF16","shape":[32768],"data_offsets":[16,65552]},'
	json+='"c.tail":{"dtype":"I32","shape":[1,2],"data_offsets":[65552,65560]},'
	json+='"d.new":{"dtype":"U8","shape":[5],"data_offsets":[65560,65565]}}'
	{
		slice next.st "$ST_DATA_START" 65560
		printf 'abcde'
	} >data
	st_assemble target.st "$json" data
	z4ai compress -q -r base.st -c target.st >delta.z4
	z4ai decompress -q -r base.st -c delta.z4 | cmp - target.st
}

@test "headers of different lengths: tensors are matched by name" {
	mk_pair
	local json='{"__metadata__":{"step":"one more byte of metadata!"},'
	json+='"a.small":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
	json+='"b.big":{"dtype":"BF16","shape":[32768],"data_offsets":[16,65552]},'
	json+='"c.tail":{"dtype":"I32","shape":[2],"data_offsets":[65552,65560]}}'
	slice next.st "$ST_DATA_START" 65560 >data
	st_assemble longer.st "$json" data
	z4ai compress -q -c longer.st >intra.z4
	z4ai compress -q -r base.st -c longer.st >delta.z4
	z4ai decompress -q -r base.st -c delta.z4 | cmp - longer.st
	(($(fsize delta.z4) * 10 < $(fsize intra.z4)))
}

@test "a delta of a file against itself costs little" {
	mk_pair
	z4ai compress -q -r base.st -c base.st >self.z4
	z4ai decompress -q -r base.st -c self.z4 | cmp - base.st
	(($(fsize self.z4) < 1024))
}

@test "-r with a file that is no checkpoint: exit 1" {
	mk_pair
	printf 'hello' >junk
	run -1 --separate-stderr z4ai compress -r junk -c next.st
	[ "$stderr" = "z4ai: 'junk': reference is neither a z4 stream nor safetensors" ]
}

@test "-r with a missing file: exit 3" {
	mk_pair
	run -3 --separate-stderr z4ai compress -r nope -c next.st
	[ "$stderr" = "z4ai: cannot read 'nope': No such file or directory" ]
}

# mk_near OUT FAR: OUT holds tensors a and b of 256 F32 elements, b a
# with the low byte of each element changed; FAR the same with b
# unrelated to a.
mk_near() {
	local json='{"a":{"dtype":"F32","shape":[256],"data_offsets":[0,1024]},"b":{"dtype":"F32","shape":[256],"data_offsets":[1024,2048]}}'
	random_bytes 1024 a.bin
	od -An -v -tu1 a.bin | LC_ALL=C awk '{
		for (i = 1; i <= NF; i++) {
			v = $i
			if (n++ % 4 == 0)
				v = (v + 77) % 256
			printf "%c", v
		}
	}' >b.bin
	cat a.bin b.bin >near.data
	st_assemble "$1" "$json" near.data
	random_bytes 1024 c.bin
	cat a.bin c.bin >far.data
	st_assemble "$2" "$json" far.data
}

@test "z4ai: a small tensor near an earlier one is coded against it" {
	mk_near near.st far.st
	[ "$(fsize b.bin)" -eq 1024 ]
	cmp -s a.bin b.bin && false
	z4ai compress -q -c near.st >near.z4
	z4ai compress -q -c far.st >far.z4
	run -0 --separate-stderr z4info near.z4
	[[ ${lines[2]} == *" delta-model+"*" b" ]]
	run -0 --separate-stderr z4info far.z4
	[[ ${lines[2]} != *delta* ]]
	# Three bytes in four of b are a's: b alone takes over 1024 bytes,
	# coded against a under 500.
	(($(fsize near.z4) + 500 < $(fsize far.z4)))
	z4ai decompress -q -c near.z4 | cmp - near.st
	z4cat -n b near.z4 | cmp - b.bin
	z4cat <near.z4 | cmp - near.st
}

#!/usr/bin/env bats
# z4info: a row per tensor, then glue, index and totals; -j JSON.

load helper

HEADER_RE='^ +original +coded +ratio +dtype +shape +chain +tensor$'

# row_of NAME: the table row (in $output) whose tensor column is NAME.
row_of() {
	local line
	for line in "${lines[@]}"; do
		if [[ $line == *" $1" ]]; then
			read -r -a ROW <<<"$line"
			[ "${ROW[6]}" = "$1" ] && return 0
		fi
	done
	echo "no row for tensor '$1'" >&2
	return 1
}

@test "z4info: a row per tensor with name, dtype, shape and size" {
	mk_safetensors st
	z4split st >st.z4
	run -0 --separate-stderr z4info st.z4
	[ "$stderr" = "" ]
	[[ ${lines[0]} =~ $HEADER_RE ]]
	# Header, a row per tensor, glue, index, total.
	[ "${#lines[@]}" -eq $((1 + ${#ST_NAMES[@]} + 3)) ]
	local i shape
	for i in "${!ST_NAMES[@]}"; do
		echo "# tensor ${ST_NAMES[i]}"
		# Rows come in stream order.
		[[ ${lines[i + 1]} == *" ${ST_NAMES[i]}" ]]
		row_of "${ST_NAMES[i]}"
		[ "${ROW[0]}" -eq "${ST_SIZES[i]}" ]
		[ "${ROW[3]}" = "${ST_Z4DTYPES[i]}" ]
		shape=${ST_SHAPES[i]//,/x}
		[ "${ROW[4]}" = "$shape" ]
		[ "${ROW[5]}" = stored ]
	done
}

@test "z4info: glue, index and total rows add up" {
	mk_safetensors st
	z4split st >st.z4
	run -0 --separate-stderr z4info st.z4
	local n=${#lines[@]} glue index total
	glue=${lines[n - 3]}
	index=${lines[n - 2]}
	total=${lines[n - 1]}
	[[ $glue == *" (glue: headers, padding, opaque bytes)" ]]
	[[ $index == *" (stream headers, index, trailer)" ]]
	[[ $total == *" (total, 1 stream)" ]]
	local -a g x t
	read -r -a g <<<"$glue"
	read -r -a x <<<"$index"
	read -r -a t <<<"$total"
	# Total original is the input, total coded the stream.
	[ "${t[0]}" -eq "$(fsize st)" ]
	[ "${t[1]}" -eq "$(fsize st.z4)" ]
	[ "${x[0]}" -eq 0 ]
	# Tensors + glue = original; tensors + glue + index = coded.
	local i sum_orig=0 sum_coded=0
	for ((i = 1; i < n - 3; i++)); do
		read -r -a ROW <<<"${lines[i]}"
		sum_orig=$((sum_orig + ROW[0]))
		sum_coded=$((sum_coded + ROW[1]))
	done
	[ $((sum_orig + g[0])) -eq "${t[0]}" ]
	[ $((sum_coded + g[1] + x[1])) -eq "${t[1]}" ]
	# The glue is the 8-byte length and the JSON header.
	[ "${g[0]}" -eq "$ST_DATA_START" ]
}

@test "z4info: coded streams show zstd and their ratio" {
	mk_safetensors st
	zero_bytes 100000 zeros
	z4ai compress -c st >st.z4
	z4ai compress -c -D f32 zeros >zeros.z4
	run -0 --separate-stderr z4info zeros.z4
	read -r -a ROW <<<"${lines[1]}"
	[ "${ROW[0]}" -eq 100000 ]
	[ "${ROW[3]}" = F32 ]
	[ "${ROW[4]}" = - ]
	# Entropy-coded, whatever the chain is.
	[ "${ROW[5]}" != stored ]
	# A ratio well above 1.
	[[ ${ROW[2]} =~ ^[0-9]{2,}\.[0-9]{3}$ ]]
	# The JSON header compresses: the glue is coded too.
	run -0 --separate-stderr z4info st.z4
	read -r -a ROW <<<"${lines[-3]}"
	[ "${ROW[6]}" = "(glue:" ]
	[ "${ROW[5]}" != stored ]
}

@test "z4info: a raw stream and an empty stream" {
	random_bytes 1001 r
	z4split -D bf16 -B 100 r >r.z4
	run -0 --separate-stderr z4info r.z4
	[ "${#lines[@]}" -eq 5 ]
	read -r -a ROW <<<"${lines[1]}"
	[ "${ROW[0]}" -eq 1001 ]
	[ "${ROW[3]}" = BF16 ]
	[ "${ROW[4]}" = - ]
	[ "${#ROW[@]}" -eq 6 ]
	: >empty
	z4split empty >e.z4
	run -0 --separate-stderr z4info e.z4
	[ "${#lines[@]}" -eq 4 ]
	[[ ${lines[3]} =~ ^\ +0\ +[0-9]+\ +0\.000\ .*\(total,\ 1\ stream\)$ ]]
	random_bytes 100 g
	z4split g >g.z4
	run -0 --separate-stderr z4info g.z4
	[ "${#lines[@]}" -eq 4 ]
	read -r -a ROW <<<"${lines[1]}"
	[ "${ROW[0]}" -eq 100 ]
}

@test "z4info: concatenated streams are counted" {
	mk_safetensors st
	z4split st >a.z4
	cat a.z4 a.z4 a.z4 >aaa.z4
	run -0 --separate-stderr z4info aaa.z4
	[[ ${lines[-1]} == *" (total, 3 streams)" ]]
	read -r -a ROW <<<"${lines[-1]}"
	[ "${ROW[0]}" -eq $((3 * $(fsize st))) ]
	[ "${ROW[1]}" -eq "$(fsize aaa.z4)" ]
	[ "$(printf '%s\n' "${lines[@]}" | grep -c ' w\.bool$')" -eq 3 ]
}

@test "z4info: stdin and several files" {
	mk_safetensors st
	random_bytes 100 r
	z4split st >a.z4
	z4split -D u8 r >b.z4
	run -0 --separate-stderr z4info <a.z4
	[[ ${lines[0]} =~ $HEADER_RE ]]
	row_of w.bf16
	run -0 --separate-stderr z4info a.z4 b.z4
	[ "${lines[0]}" = "a.z4:" ]
	[[ ${lines[1]} =~ $HEADER_RE ]]
	[[ $output == *$'\n\nb.z4:\n'* ]]
}

@test "z4info -j: parses and has every tensor" {
	mk_safetensors st
	z4split st >st.z4
	run -0 --separate-stderr z4info -j st.z4
	[ "$stderr" = "" ]
	local json=$output i key
	for key in '"file": "st.z4"' '"tensors": [' '"streams": 1' \
	    '"glue": {' '"index": {' '"ratio": ' \
	    "\"original\": $(fsize st), \"coded\": $(fsize st.z4)"; do
		[[ $json == *"$key"* ]]
	done
	for i in "${!ST_NAMES[@]}"; do
		[[ $json == *"{\"name\": \"${ST_NAMES[i]}\", \"dtype\": \"${ST_Z4DTYPES[i]}\", \"shape\": ${ST_SHAPES[i]}, \"original\": ${ST_SIZES[i]},"* ]]
	done
	command -v jq >/dev/null || return 0
	# One jq run: the whole document parses and says the same.
	local got exp=''
	got=$(jq -r '[.file, .streams, .original, .coded] + (.tensors |
	    map(.name, .dtype, (.shape | tojson), .original)) | join(" ")' \
	    <<<"$json")
	exp="st.z4 1 $(fsize st) $(fsize st.z4)"
	for i in "${!ST_NAMES[@]}"; do
		exp+=" ${ST_NAMES[i]} ${ST_Z4DTYPES[i]} ${ST_SHAPES[i]} ${ST_SIZES[i]}"
	done
	[ "$got" = "$exp" ]
}

@test "z4info -j: odd names are escaped, raw shapes are null" {
	local json='{"a \"q\" \\ b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"tab\there":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}'
	printf 'xyz' >d
	st_assemble st "$json" d
	z4split st >st.z4
	run -0 --separate-stderr z4info -j st.z4
	if command -v jq >/dev/null; then
		[ "$(jq -r '.tensors[0].name' <<<"$output")" = 'a "q" \ b' ]
		[ "$(jq -r '.tensors[1].name' <<<"$output")" = $'tab\there' ]
	else
		[[ $output == *'"name": "a \"q\" \\ b"'* ]]
	fi
	random_bytes 10 r
	z4split -D f16 r >r.z4
	run -0 --separate-stderr z4info -j r.z4
	[[ $output == *'"shape": null'* ]]
	if command -v jq >/dev/null; then
		[ "$(jq -r '.tensors[0].shape' <<<"$output")" = null ]
	fi
}

@test "z4info -j: one object per file" {
	mk_safetensors st
	z4split st >a.z4
	z4split st >b.z4
	run -0 --separate-stderr z4info -j a.z4 b.z4
	if command -v jq >/dev/null; then
		[ "$(jq -rs 'map(.file) | join(",")' <<<"$output")" = a.z4,b.z4 ]
	else
		[[ $output == *'"file": "a.z4"'*'"file": "b.z4"'* ]]
	fi
}

@test "z4info: not a z4 stream, truncated, missing" {
	mk_safetensors st
	run -1 --separate-stderr z4info st
	[ "$stderr" = "z4info: 'st': stream header: not a z4 stream (bad magic)" ]
	z4split st >st.z4
	head -c $(($(fsize st.z4) - 5)) st.z4 >cut.z4
	run -1 --separate-stderr z4info cut.z4
	assert_data_error z4info cut.z4
	: >empty
	run -1 --separate-stderr z4info empty
	[ "$stderr" = "z4info: 'empty': stream header: unexpected end of input" ]
	run -3 --separate-stderr z4info nonexistent
	[ "$stderr" = "z4info: 'nonexistent': No such file or directory" ]
}

@test "z4info: a bad file among good ones: reports all, first failure's status" {
	mk_safetensors st
	z4split st >a.z4
	run -1 --separate-stderr z4info a.z4 st a.z4
	[ "$stderr" = "z4info: 'st': stream header: not a z4 stream (bad magic)" ]
	[ "$(printf '%s\n' "${lines[@]}" | grep -c '(total, 1 stream)$')" -eq 2 ]
	run -3 --separate-stderr z4info nonexistent st
	[ "${#stderr_lines[@]}" -eq 2 ]
}

@test "z4info -v: a plane line under each tensor; it decodes payloads" {
	mk_safetensors st
	z4split st >st.z4
	run -0 --separate-stderr z4info -v st.z4
	local i
	for i in "${!ST_NAMES[@]}"; do
		[[ $output == *" ${ST_NAMES[i]}"$'\n'*" plane 0: "*" bits/element, order-0 entropy "* ]]
	done
	run -0 --separate-stderr z4info -v -j st.z4
	[[ $output == *'"planes": [{"raw": '* ]]
	if command -v jq >/dev/null; then
		[ "$(jq '[.tensors[] | select(.planes | length > 0)] | length' <<<"$output")" -eq "${#ST_NAMES[@]}" ]
	fi
	# Damage in a payload: z4info does not read payloads, -v does.
	local off
	st_tensor_bytes st 0 >t0
	off=$(find_bytes st.z4 t0)
	flip_bit st.z4 $((off + 5)) 0
	run -0 --separate-stderr z4info st.z4
	run -1 --separate-stderr z4info -v st.z4
	assert_data_error z4info st.z4
	[[ $stderr == *"(tensor 'w.f64')"* ]]
}

@test "z4info: a write error is exit 3" {
	[ -w /dev/full ] || skip "no /dev/full"
	random_bytes 100 in
	z4split in >in.z4
	run -3 --separate-stderr to_full z4info in.z4
	[ "$stderr" = "z4info: error writing standard output: No space left on device" ]
}

@test "z4info: usage errors, -h and -V" {
	usage_text z4info
	[[ $USAGE == *j* ]]
	run -2 --separate-stderr z4info -x
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "z4info: invalid option -- 'x'" ]
	[ "$stderr" = "${stderr_lines[0]}"$'\n'"$USAGE" ]
	run -0 --separate-stderr z4info -h
	[ "$output" = "$USAGE" ]
	[ "$stderr" = "" ]
	run -0 --separate-stderr z4info -V
	[ "$output" = "z4info 0.1.0 (libz4 0.1.0, format 0.8)" ]
}

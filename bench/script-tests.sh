#!/bin/sh
# Times `cocalcctl test scripts/` as a user runs it: a built binary, a new
# process per run. Prints each run's wall time, then the minimum, median
# and maximum, and exits 1 when the median reaches the limit.
#
#   bench/script-tests.sh [RUNS] [LIMIT_SECONDS]    # defaults: 10 runs, 1 s
#
# Run it from the repository root; it needs Go and nothing else (no Docker
# Engine, no database).
set -eu

runs=${1:-10}
limit=${2:-1}
bin=$(mktemp -d)/cocalcctl
trap 'rm -rf "$(dirname "$bin")"' EXIT

go build -o "$bin" ./cmd/cocalcctl
"$bin" test scripts/ >/dev/null # a failing test makes the numbers meaningless

times=""
i=0
while [ "$i" -lt "$runs" ]; do
	start=$(date +%s%N)
	"$bin" test scripts/ >/dev/null
	end=$(date +%s%N)
	ms=$(((end - start) / 1000000))
	echo "run $((i + 1)): ${ms} ms"
	times="$times $ms"
	i=$((i + 1))
done

sorted=$(printf '%s\n' $times | sort -n)
min=$(printf '%s\n' "$sorted" | head -n 1)
max=$(printf '%s\n' "$sorted" | tail -n 1)
median=$(printf '%s\n' "$sorted" | sed -n "$(((runs + 1) / 2))p")
tests=$("$bin" test scripts/ | tail -n 1)
echo "cocalcctl test scripts/ ($tests): min ${min} ms, median ${median} ms, max ${max} ms over $runs runs"
if [ "$median" -ge $((limit * 1000)) ]; then
	echo "the median reaches the limit of ${limit} s" >&2
	exit 1
fi

#!/bin/bash
# bench-targets.sh [ROUNDS]: the one-region targets of docs/PERFORMANCE.md.
#
# Each round starts `meridian serve` on a fresh data directory, loads 10,000
# records of 1 KB, then runs open-loop workloads (C at 10,000/s, C at
# 2,000/s, W at 2,500/s, A at 5,000/s, B at 10,000/s) and the throughput
# runs last (C at 25,000/s, W at 12,000/s offered), so those read data that
# has taken a minute of writes. Prints p50/p99 per operation, the achieved
# rate, how many operations the generator sent over 1 ms late and the
# server's own p50/p99 (x-ms-request-duration-ms), then the server's
# warnings (Pebble write stalls, slow disk operations).
#
# MERIDIAN (default: meridian on PATH) is the binary; PORT the server's port.
set -euo pipefail
ROUNDS=${1:-2}
BIN=${MERIDIAN:-meridian}
PORT=${PORT:-8100}
E=http://127.0.0.1:$PORT/
summary() {
	awk '/open loop/ { for (i = 1; i <= NF; i++) { if ($i == "late") l = $(i+2); if ($i == "achieved") a = $(i+1) }; next }
	     /^server time/ { srv = 1; next }
	     !srv && /^(read|update|insert|scan) / { printf "%s p50 %s p99 %s | ", $1, $(NF-5), $(NF-3) }
	     srv && /^(read|update|insert|scan) / { s = s sprintf("%s %s/%s ", $1, $(NF-2), $(NF-1)) }
	     END { printf "achieved %s late %s", a, l; if (s != "") printf " | server p50/p99 %s", s; printf "\n" }'
}
for i in $(seq "$ROUNDS"); do
	dir=$(mktemp -d)
	"$BIN" serve --data "$dir" --listen "127.0.0.1:$PORT" >"$dir.log" 2>&1 &
	srv=$!
	trap 'kill $srv 2>/dev/null; rm -rf "$dir" "$dir.log"' EXIT
	sleep 1
	"$BIN" bench --endpoint "$E" --workload A --load --records 10000 --duration 0 >/dev/null 2>&1
	for run in C:10000:15s C:2000:15s W:2500:15s A:5000:15s B:10000:15s C:25000:10s W:12000:10s; do
		IFS=: read -r w rate dur <<<"$run"
		echo "round $i $w@$rate: $("$BIN" bench --endpoint "$E" --workload "$w" --records 10000 \
			--rate "$rate" --duration "$dur" --warmup 2s --concurrency 128 2>&1 | summary)"
	done
	if ! kill $srv 2>/dev/null; then
		# The server exited on its own: show why before its log goes.
		echo "round $i: the server had exited; the end of its log:"
		tail -30 "$dir.log"
	fi
	wait $srv 2>/dev/null || true
	grep -E 'level=(WARN|ERROR)' "$dir.log" | sed "s/^/round $i server: /" || true
	rm -rf "$dir" "$dir.log"
	trap - EXIT
done

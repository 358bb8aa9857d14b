# Sourced by the benchmarks that time several tools on one capture in the same run.
#   median                      the median of the numbers on stdin
#   interleaved_rounds CAP PACKETS WIDTH
#       runs `run_tool TOOL CAP` (the script's; prints "wall user sys maxrss_kb") for every tool
#       in TOOLS, ROUNDS times, the order rotated each round so no tool always goes first; keeps
#       each result in the caller's associative array R[TOOL-ROUND] and prints one line per run
#       (tool names padded to WIDTH). After each round it calls `after_round ROUND` when the
#       script defines one.
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

interleaved_rounds() {
  local cap=$1 packets=$2 width=$3 round s tool wall user sys rss
  for round in $(seq 1 "$ROUNDS"); do
    s=$(( (round - 1) % ${#TOOLS[@]} ))
    for tool in "${TOOLS[@]:s}" "${TOOLS[@]:0:s}"; do
      R[$tool-$round]=$(run_tool "$tool" "$cap")
      read -r wall user sys rss <<<"${R[$tool-$round]}"
      awk -v t="$tool" -v r="$round" -v w="$wall" -v u="$user" -v s="$sys" -v m="$rss" -v p="$packets" -v n="$width" \
        'BEGIN { printf "round %d %-*s %7.3f s  %6.0f ns CPU/pkt  %5.0f MiB RSS\n", r, n, t, w, (u+s)*1e9/p, m/1024 }'
    done
    if declare -F after_round >/dev/null; then after_round "$round"; fi
  done
}

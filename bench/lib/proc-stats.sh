# Sourced by the benchmarks that read a running process's CPU from /proc (the collector's).
#   cpu_of PID       CPU seconds (user + system) of the whole process
#   wait_of PID      nanoseconds its main thread spent runnable, waiting for a CPU (schedstat's run_delay)
#   threads_of PID   per thread "tid name cpu_ticks run_delay_ns": named by comm, "main" for the
#                    event loop, "@nice19" appended for the collector's upload threads; a thread
#                    that ends between two readings is left out
cpu_of() { awk '{print ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$1/stat"; }
wait_of() { awk '{print $2}' "/proc/$1/task/$1/schedstat"; }
threads_of() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s %s %s\n' "${t##*/}" "$(tr ' ' _ < "$t/comm")" "$(sed 's/^.*) //' "$t/stat" | awk '{print $12 + $13, $17}')" "$(cut -d' ' -f2 "$t/schedstat")" |
      awk -v pid="$1" '{n = $1 == pid ? "main" : $2; if ($4 == 19) n = n "@nice19"; print $1, n, $3, $5}'
  done 2>/dev/null
}

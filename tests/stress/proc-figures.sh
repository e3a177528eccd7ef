# shellcheck shell=bash
# shellcheck disable=SC2034  # MODE and MODE_ARGS are read by the sourcing script
# Helpers shared by the flood, soak and scale tests (tests/stress/flood.sh,
# soak.sh, scale.sh): their command line and reading a process's memory,
# descriptors and CPU from /proc. Figures are tests/stress/figures.sh's.
#
#   MODE                     quick or full: the script's first argument
#                            (--quick / --full) if it is one, which the
#                            script then shifts away (MODE_ARGS is 1 or 0)
#   proc_rss_kib PID         resident memory in KiB (empty if the process is
#                            gone): VmRSS of PID; for a daemon of several
#                            processes, VmRSS of its children (the network
#                            process) plus only PID's private pages (the
#                            monitor's own), so that what the two share after
#                            fork, the loaded configuration included, counts
#                            once
#   proc_fds PID             number of open file descriptors
#   proc_cpu_ns PID          CPU time (user + system) of all its threads, in
#                            nanoseconds, from schedstat (exact) or, where the
#                            kernel has none, from stat (clock ticks)
# Each counts PID and its child processes together: a sitelinkd is two
# processes (its monitor, the PID a test starts, and the network process;
# privilege separation), and the figures are the daemon's.

MODE=quick MODE_ARGS=0
case "${1:-}" in
  --quick | --full) MODE=${1#--} MODE_ARGS=1 ;;
esac

# _proc_tree PID: PID and its children, one per line.
_proc_tree() {
  echo "$1"
  pgrep -P "$1" || true
}

proc_rss_kib() {
  [[ -r /proc/$1/status ]] || return 0
  local p total=0 v children
  children=$(pgrep -P "$1" || true)
  if [[ -z $children || ! -r /proc/$1/smaps_rollup ]]; then
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null
    return 0
  fi
  total=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s + 0}' "/proc/$1/smaps_rollup" 2>/dev/null)
  for p in $children; do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

proc_fds() {
  local p n=0
  for p in $(_proc_tree "$1"); do
    local fds=("/proc/$p/fd/"*)
    [[ -e "${fds[0]}" ]] && n=$((n + ${#fds[@]}))
  done
  echo "$n"
}

proc_cpu_ns() {
  local p total=0
  for p in $(_proc_tree "$1"); do total=$((total + $(_proc_cpu_ns_one "$p"))); done
  echo "$total"
}

_proc_cpu_ns_one() {
  local pid=$1 t total=0 run rest f
  if [[ -r "/proc/$pid/schedstat" ]]; then
    for t in "/proc/$pid/task/"*/schedstat; do
      read -r run rest <"$t" 2>/dev/null || continue
      total=$((total + run))
    done
    echo "$total"
    return
  fi
  # Fields 14 and 15 of stat (after the parenthesised name) are utime and stime.
  local hz stat
  hz=$(getconf CLK_TCK)
  stat=$(<"/proc/$pid/stat") 2>/dev/null || { echo 0; return; }
  stat=${stat##*) }
  read -r -a f <<<"$stat"
  echo $(((f[11] + f[12]) * 1000000000 / hz))
}

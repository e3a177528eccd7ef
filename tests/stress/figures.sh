# shellcheck shell=bash
# Figures of the stress tests (tests/stress/*.sh), written one way by all of
# them: a `FIGURE: AREA.NAME=VALUE UNIT` line on stdout for each (what
# tests/stress/run.sh collects from the logs) and, when STRESS_OUT is set,
# $STRESS_OUT/AREA.json:
#
#   {"area": AREA, "mode": "quick"|"full", "passed": N, "failed": N,
#    KEY: VALUE...,                        (figures_meta)
#    "figures": {NAME: {"value": V, "unit": U}, ...}}
#
# V is a JSON number when the value is one, null when it is empty (a figure
# the run could not measure) and a string otherwise. The file is written when
# the script exits, whatever the reason, so a failed run still leaves its
# figures and its pass/fail counts. Source it after tests/netns/lib.sh and call
# lib_init first (the write is an on_cleanup command).
#
#   figures_init AREA [MODE]   figures are named AREA.NAME (MODE: $MODE or quick)
#   figures_meta KEY VALUE     a top-level string field, e.g. "impairment"
#   figure NAME VALUE UNIT     prints the FIGURE line, keeps it for the JSON
#   figures_write              writes the JSON now (figures_init arranges
#                              for it to happen at exit)

_FIG_AREA=""
_FIG_MODE=quick
_FIG_ROWS=()
_FIG_META=()

figures_init() {
  _FIG_AREA=$1
  _FIG_MODE=${2:-${MODE:-quick}}
  on_cleanup figures_write
}

# _fig_string TEXT: TEXT as a JSON string.
_fig_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# _fig_value TEXT: a JSON number if TEXT is one, null if empty, else a string.
_fig_value() {
  if [[ $1 =~ ^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then
    printf '%s' "$1"
  elif [[ -z $1 ]]; then
    printf null
  else
    _fig_string "$1"
  fi
}

figures_meta() { _FIG_META+=("$(_fig_string "$1"): $(_fig_string "$2")"); }

figure() {
  local name=$1 value=$2 unit=$3
  echo "FIGURE: $_FIG_AREA.$name=$value $unit"
  _FIG_ROWS+=("$(_fig_string "$name"): {\"value\": $(_fig_value "$value"), \"unit\": $(_fig_string "$unit")}")
}

figures_write() {
  [[ -n "${STRESS_OUT:-}" && -n "$_FIG_AREA" ]] || return 0
  mkdir -p "$STRESS_OUT"
  local i n=${#_FIG_ROWS[@]} m
  {
    printf '{\n  "area": %s,\n  "mode": %s,\n  "passed": %d,\n  "failed": %d,\n' \
      "$(_fig_string "$_FIG_AREA")" "$(_fig_string "$_FIG_MODE")" "${PASSED:-0}" "${FAILED:-0}"
    for m in "${_FIG_META[@]}"; do printf '  %s,\n' "$m"; done
    printf '  "figures": {\n'
    for ((i = 0; i < n; i++)); do
      printf '    %s%s\n' "${_FIG_ROWS[$i]}" "$( ((i < n - 1)) && echo ,)"
    done
    printf '  }\n}\n'
  } >"$STRESS_OUT/$_FIG_AREA.json"
  log "figures in $STRESS_OUT/$_FIG_AREA.json"
}

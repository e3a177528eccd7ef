#!/usr/bin/env bash
# Lint: clang-format, clang-tidy and shellcheck over the repository (STYLE.md 3.12). Exits 1 on any
# finding, 2 on a usage or set-up error. Called from .ci/run; needs no root.
#
#   tests/lint.sh [--build DIR] [-j N] [--tests] [--only format|tidy|shell]... [--fix-format]
#
#   format  clang-format --dry-run -Werror on every tracked *.cc and *.h (.clang-format).
#   tidy    clang-tidy on the product's translation units (handshake/, config/, tunnel/, daemon/;
#           .clang-tidy), N at a time, with DIR/compile_commands.json (default DIR: build). If DIR
#           has none, DIR is configured (cmake, no compiling). --tests adds tests/ under the relaxed
#           tests/.clang-tidy; it roughly doubles the run time, so it is not the default.
#   shell   shellcheck on every tracked *.sh and every tracked extensionless script with a sh/bash
#           shebang (.ci/run, the Debian maintainer scripts), from the root so that .shellcheckrc
#           and the `# shellcheck source=tests/...` paths apply.
#   --fix-format  rewrites the files clang-format would change (clang-format -i), then exits.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
jobs=$(nproc)
with_tests=0
fix_format=0
parts=()
usage() {
  sed -n '4,5p' "$0" | sed 's/^# \{0,3\}//' >&2
  exit 2
}
while (($#)); do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift 2 ;;
    -j) jobs=${2:?-j needs a number}; shift 2 ;;
    --tests) with_tests=1; shift ;;
    --only)
      case ${2:-} in format | tidy | shell) parts+=("$2") ;; *) usage ;; esac
      shift 2
      ;;
    --fix-format) fix_format=1; shift ;;
    -h | --help) usage ;;
    *) echo "lint: unknown argument '$1'" >&2; usage ;;
  esac
done
((${#parts[@]})) || parts=(format tidy shell)
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "lint: -j needs a positive number, got '$jobs'" >&2; exit 2; }

for tool in clang-format clang-tidy shellcheck git; do
  command -v "$tool" >/dev/null || { echo "lint: $tool is missing (tests/install-deps.sh installs it)" >&2; exit 2; }
done

mapfile -t cxx_files < <(git ls-files '*.cc' '*.h')
if ((fix_format)); then
  clang-format -i "${cxx_files[@]}"
  echo "lint: formatted ${#cxx_files[@]} files"
  exit 0
fi

failed=()
want() { [[ " ${parts[*]} " == *" $1 "* ]]; }

if want format; then
  start=$SECONDS
  # One run over all files; each violation is reported as FILE:LINE:COL: error: ...
  fmt_rc=0
  fmt_out=$(clang-format --dry-run -Werror "${cxx_files[@]}" 2>&1) || fmt_rc=$?
  mapfile -t bad < <(sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*clang-format-violations.*/\1/p' <<<"$fmt_out" | sort -u)
  if ((fmt_rc != 0 && ${#bad[@]} == 0)); then
    echo "$fmt_out"
    echo "lint: format FAILED: clang-format exited $fmt_rc"
    failed+=(format)
  elif ((${#bad[@]})); then
    printf 'lint: clang-format would change %s\n' "${bad[@]}"
    echo "lint: format FAILED: ${#bad[@]} of ${#cxx_files[@]} files (see: clang-format --dry-run FILE; fix: tests/lint.sh --fix-format)"
    failed+=(format)
  else
    echo "lint: format ok: ${#cxx_files[@]} files ($((SECONDS - start)) s)"
  fi
fi

if want tidy; then
  start=$SECONDS
  if [[ ! -f $build/compile_commands.json ]]; then
    echo "lint: no $build/compile_commands.json; configuring $build (no compiling)"
    cmake -S . -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
  fi
  dirs='handshake|config|tunnel|daemon'
  ((with_tests)) && dirs+='|tests'
  # The translation units of this tree, as paths from the root, in compile_commands.json order.
  mapfile -t units < <(python3 - "$build/compile_commands.json" "$PWD" "$dirs" <<'EOF'
import json, re, sys
db, root, dirs = sys.argv[1], sys.argv[2].rstrip('/') + '/', sys.argv[3]
seen = set()
for e in json.load(open(db)):
    f = e['file']
    if f.startswith(root):
        f = f[len(root):]
    if re.match(r'^(' + dirs + r')/', f) and f not in seen:
        seen.add(f)
        print(f)
EOF
  )
  if ((${#units[@]} == 0)); then
    echo "lint: tidy FAILED: no translation units under $dirs in $build/compile_commands.json"
    failed+=(tidy)
  else
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    # One log per unit; a unit's log is kept only if clang-tidy failed on it.
    # shellcheck disable=SC2016  # the inner script expands its own arguments
    printf '%s\n' "${units[@]}" |
      xargs -P "$jobs" -I{} sh -c 'log="$2/$(echo "$3" | tr / _).log"
        if clang-tidy -p "$1" --quiet "$3" >"$log" 2>&1; then rm -f "$log"; fi' sh "$build" "$out" {}
    logs=("$out"/*.log)
    if [[ -e ${logs[0]} ]]; then
      cat "${logs[@]}" | grep -v '^[0-9]* warnings\? generated\.$' || true
      echo "lint: tidy FAILED: ${#logs[@]} of ${#units[@]} translation units ($((SECONDS - start)) s)"
      failed+=(tidy)
    else
      echo "lint: tidy ok: ${#units[@]} translation units ($((SECONDS - start)) s, -j $jobs)"
    fi
  fi
fi

if want shell; then
  start=$SECONDS
  scripts=()
  while IFS= read -r f; do
    if [[ $f == *.sh ]]; then
      scripts+=("$f")
    elif [[ $f != *.* && -f $f ]] && head -n1 "$f" | grep -Eq '^#!.*\b(ba)?sh\b'; then
      scripts+=("$f")
    fi
  done < <(git ls-files)
  if shellcheck "${scripts[@]}"; then
    echo "lint: shell ok: ${#scripts[@]} scripts ($((SECONDS - start)) s)"
  else
    echo "lint: shell FAILED (shellcheck on ${#scripts[@]} scripts; .shellcheckrc applies)"
    failed+=(shell)
  fi
fi

if ((${#failed[@]})); then
  echo "lint: FAILED: ${failed[*]}"
  exit 1
fi
echo "lint: passed: ${parts[*]}"

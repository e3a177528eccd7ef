#!/usr/bin/env bash
# Renders a program's --help output as a man page (gzipped), so the man page
# cannot drift from the program:
#
#   render-man.sh BINARY NAME SECTION "one-line description" OUT.gz
#
# Layout of the help text it understands (that of sitelinkd and sitelink):
#   "Usage: ..." and the lines indented under it      -> SYNOPSIS
#   a line "Heading:" (or "Heading (remark):") at column 0 after a blank
#   line and followed by an indented line             -> .SH HEADING
#   a paragraph at column 0 after an indented block   -> NOTES
#   "See also: ..."                                    -> SEE ALSO
# Column-0 paragraphs are filled; indented blocks stay as they are.
set -euo pipefail

if (($# != 5)); then
  echo "usage: $0 BINARY NAME SECTION DESCRIPTION OUT.gz" >&2
  exit 64
fi
bin=$1 name=$2 section=$3 summary=$4 out=$5

help=$("$bin" --help)
version=$("$bin" --version)

# esc TEXT: roff-escape one line of text.
esc() {
  local s=${1//\\/\\e}
  s=${s//-/\\-}
  [[ $s == .* || $s == \'* ]] && s="\\&$s"
  printf '%s\n' "$s"
}

upper() { printf '%s' "$1" | tr '[:lower:]' '[:upper:]'; }

mapfile -t lines <<<"$help"
n=${#lines[@]}

{
  # shellcheck disable=SC2016  # the backquotes are text
  printf '.\\" Generated from `%s --help` by packaging/man/render-man.sh; do not edit.\n' "$name"
  printf '.TH %s %s "" "%s" "sitelink"\n' "$(upper "$name")" "$section" "$(esc "$version")"
  printf '.SH NAME\n'
  esc "$name - $summary"

  i=0
  # SYNOPSIS: "Usage: X" and the indented continuation lines.
  printf '.SH SYNOPSIS\n.nf\n'
  while ((i < n)) && [[ -n ${lines[i]} ]]; do
    l=${lines[i]#Usage: }
    l=${l#"${l%%[![:space:]]*}"}
    esc "$l"
    i=$((i + 1))
  done
  printf '.fi\n.SH DESCRIPTION\n'

  mode=none       # none | para | block
  after_block=0   # the last non-blank text was an indented block
  prev_blank=1
  section=DESCRIPTION
  for ((; i < n; i++)); do
    l=${lines[i]}
    next=${lines[i + 1]:-}
    if [[ -z $l ]]; then
      [[ $mode == block ]] && printf '.fi\n'
      mode=none
      prev_blank=1
      continue
    fi
    if ((prev_blank)) && [[ $l =~ ^See\ also:\ *(.*)$ ]]; then
      [[ $mode == block ]] && printf '.fi\n'
      printf '.SH SEE ALSO\n'
      section="SEE ALSO"
      esc "${BASH_REMATCH[1]}"
      mode=para after_block=0 prev_blank=0
      continue
    fi
    if ((prev_blank)) && [[ $next =~ ^[[:space:]] && $l =~ ^([A-Za-z][^:]*):$ ]]; then
      heading=${BASH_REMATCH[1]}
      remark=""
      if [[ $heading =~ ^([^\(]*[^\(\ ])\ *\((.*)\)$ ]]; then
        heading=${BASH_REMATCH[1]} remark=${BASH_REMATCH[2]}
      fi
      section=$(upper "$(esc "$heading")")
      printf '.SH %s\n' "$section"
      if [[ -n $remark ]]; then
        printf '.PP\n'
        esc "${remark^}."
      fi
      mode=none after_block=0 prev_blank=0
      continue
    fi
    if [[ $l =~ ^[[:space:]] ]]; then
      if [[ $mode != block ]]; then
        printf '.PP\n.nf\n'
        mode=block
      fi
      esc "$l"
      after_block=1
    else
      if [[ $mode == block ]]; then printf '.fi\n'; mode=none; fi
      if [[ $mode == none ]]; then
        if ((after_block && prev_blank)) && [[ $section != NOTES ]]; then
          printf '.SH NOTES\n'
          section=NOTES
        fi
        after_block=0
        printf '.PP\n'
        mode=para
      fi
      esc "$l"
    fi
    prev_blank=0
  done
  if [[ $mode == block ]]; then printf '.fi\n'; fi
} | gzip -9n >"$out.tmp"
mv "$out.tmp" "$out"

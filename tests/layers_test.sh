#!/usr/bin/env bash
# Fails when a component includes another that docs/architecture.md's dependency table does not
# list for it: the table is the rule, and this keeps the code to it (and the table true).
#
#   tests/layers_test.sh [REPO_ROOT]
#
# For every folder src/<component>, the components named by its `#include "<other>/..."` lines
# (tests, *_test.cc, may also use higher components to set things up, and are not checked) must
# be the component itself or appear in the last column of its row ("all" allows everything).
set -euo pipefail
ROOT="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
TABLE="$ROOT/docs/architecture.md"
status=0
for dir in "$ROOT"/src/*/; do
  comp="$(basename "$dir")"
  row="$(grep -E "^\| \`$comp\` \|" "$TABLE" || true)"
  if [ -z "$row" ]; then
    echo "src/$comp has no row in docs/architecture.md's dependency table"
    status=1
    continue
  fi
  # The last column: "a, b (why), `c`" -> a b c
  allowed=" $(printf '%s\n' "$row" | awk -F'|' '{print $(NF-1)}' | tr ',' '\n' |
    sed -E 's/\(.*\)//; s/[` ]//g' | grep -v '^$' | tr '\n' ' ') "
  [[ "$allowed" == *" all "* ]] && continue
  while IFS= read -r line; do
    file="${line%%:*}"
    other="$(printf '%s\n' "$line" | sed -E 's/.*#include "([a-z_]+)\/.*/\1/')"
    [ "$other" = "$comp" ] && continue
    if [[ "$allowed" != *" $other "* ]]; then
      echo "${file#"$ROOT"/} includes $other/, which docs/architecture.md does not allow src/$comp (allowed:$allowed)"
      status=1
    fi
  done < <(grep -rnE '^#include "[a-z_]+/' "$dir" --include='*.h' --include='*.cc' --include='*.c' |
           grep -vE '_test\.cc:' || true)
done
[ "$status" = 0 ] && echo "every include is allowed by docs/architecture.md"
exit "$status"

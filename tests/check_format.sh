#!/usr/bin/env bash
# Every C source and header is formatted with the committed .clang-format.
set -euo pipefail
cd "$1"
files=$(git ls-files 'include/*.h' 'src/*.c' 'src/*.h' 'tools/*.c' 'tools/*.h' 'tests/*.c' 'tests/*.h' 'tests/fuzz/*.c' 'python/*.c' 2>/dev/null ||
    find include src tools tests python -name '*.[ch]')
bad=0
for f in $files; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || { echo "not formatted: $f"; bad=$((bad + 1)); }
done
n=$(echo "$files" | wc -w)
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]

#!/usr/bin/env bash
# Every C source and header is formatted with the committed .clang-format.
set -euo pipefail
cd "$1"
files=$(git ls-files 'include/*.h' 'src/*.c' 'src/*.h' 'tools/*.c' 'tools/*.h' 'tests/*.c' 'tests/*.h' 'tests/fuzz/*.c' 'python/*.c' 2>/dev/null ||
    find include src tools tests python -name '*.[ch]')
n=$(echo "$files" | wc -w)
# One clang-format for every file (a process per file costs more than the check); only when
# it finds something does a second pass name the files.
# shellcheck disable=SC2086
if clang-format --dry-run -Werror $files >/dev/null 2>&1; then
    echo "$n passed, 0 failed"
    exit 0
fi
bad=0
for f in $files; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || { echo "not formatted: $f"; bad=$((bad + 1)); }
done
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]

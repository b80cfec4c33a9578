# Shared by the CLI test scripts (sourced, not run: tests/cli.cmake runs tests/cli/*.sh only).
#   source "$(dirname "$0")/lib/harness.sh" NAME   # NAME names the scratch folder
# Sets STRATA, PY, WORK (removed at exit), OUT and ERR (the last run's output), PASS/FAIL, and
# defines ok/not_ok, run, expect_rc, expect_stderr_has, expect_stdout_has and finish.
STRATA=${STRATA_CLI:?set STRATA_CLI to the strata binary}
PY=${PYTHON:-/usr/bin/python3}
PASS=0
FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-${1:-cli}-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/stdout"
ERR="$WORK/stderr"

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() {
  FAIL=$((FAIL + 1))
  echo "not ok - $1"
  shift
  for line in "$@"; do echo "    $line"; done
  if [ -s "$ERR" ]; then sed 's/^/    stderr: /' "$ERR" | head -n 8; fi
}

# run ARGS...: runs strata with stdout/stderr captured; sets RC.
run() {
  "$STRATA" "$@" >"$OUT" 2>"$ERR"
  RC=$?
}

# expect_rc CODE DESCRIPTION ARGS...: runs strata ARGS and checks the exit code.
expect_rc() {
  local want=$1 desc=$2
  shift 2
  run "$@"
  if [ "$RC" -eq "$want" ]; then ok "$desc (exit $want)"; else not_ok "$desc" "exit $RC, expected $want: strata $*"; fi
}

# expect_stderr_has TEXT DESCRIPTION (case-insensitive)
expect_stderr_has() {
  if grep -qiF -- "$1" "$ERR"; then ok "$2"; else not_ok "$2" "stderr lacks '$1'"; fi
}
expect_stdout_has() {
  if grep -qF -- "$1" "$OUT"; then ok "$2"; else not_ok "$2" "stdout lacks '$1'" "stdout: $(head -c 300 "$OUT")"; fi
}

# finish: the closing line and the exit status.
finish() {
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}

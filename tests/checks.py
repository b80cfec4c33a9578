"""The check counter shared by the Python test scripts: every case counts, an exception is a
failure (never a skip), and the closing line is `N passed, M failed`."""
import os
import sys
import time

CLI = os.environ.get("STRATA_CLI")


def require_cli():
    if not CLI or not os.path.exists(CLI):
        print(f"STRATA_CLI not set or missing: {CLI!r}")
        sys.exit(1)


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, cond, label, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {label} {detail}", flush=True)

    def run(self, label, fn, *args):
        """Runs one case; an exception is a failure, never a skip."""
        t0 = time.time()
        try:
            fn(self, *args)
        except Exception as e:  # noqa: BLE001
            self.failed += 1
            print(f"FAIL {label}: {type(e).__name__}: {e}", flush=True)
        print(f"  {label}: {time.time() - t0:.1f} s", flush=True)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed or not self.passed else 0)

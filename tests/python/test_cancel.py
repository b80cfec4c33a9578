"""Ctrl-C (SIGINT) cancels a reduction inside the C engine and surfaces as KeyboardInterrupt."""
import signal
import subprocess
import sys
import time

from conftest import make_stack

CHILD = r"""
import sys
from strata import DatasetCollection
cube = DatasetCollection.from_files(sys.argv[1:])
print("start", flush=True)
try:
    cube.std()
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_sigint_cancels_reduce(tmp_path):
    # The same 6 files 400 times: one reduction far longer than the wait below.
    s = make_stack(tmp_path, n=6, bands=1, rows=256, cols=256)
    p = subprocess.Popen([sys.executable, "-c", CHILD] + s.paths * 400, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "start", p.stderr.read()
        time.sleep(0.3)  # not a timing check: lets the call enter the engine
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert out.strip() == "interrupted", (out, err)

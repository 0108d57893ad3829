"""Run every benchmark in this folder, one after another, passing the arguments on.

    python benchmarks/run_all.py [--quick]

Each prints its own table. They are not CI tests: they time this machine, so read ratios
measured side by side in one run rather than absolute figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

QUICK_AWARE = {"bench_encode.py", "bench_index.py", "bench_maxsim.py"}


def main() -> int:
    here = Path(__file__).resolve().parent
    failures = 0
    for script in sorted(here.glob("bench_*.py")):
        args = [a for a in sys.argv[1:] if a != "--quick" or script.name in QUICK_AWARE]
        print(f"\n=== {script.name} {' '.join(args)}", flush=True)
        failures += subprocess.run([sys.executable, str(script), *args], check=False).returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

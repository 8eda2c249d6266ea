"""Run benchmarks one by one, each in its own process (clean peak-RSS figures).

    python -m bench              # all of them
    python -m bench serving      # one (module bench/<name>.py with a main())
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    """Benchmark module names: every bench/*.py with a main(), in a stable order."""
    skip = {"__init__", "__main__", "report"}
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in skip)


def main() -> int:
    names = sys.argv[1:] or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"\n=== bench {name} ===", flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

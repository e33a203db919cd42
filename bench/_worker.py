"""``python -m bench._worker worker …``: the ``web4os worker`` command with the bench's model.

The bench process tells the worker its latency (and scripted plan) through
``BENCH_*`` environment variables; everything else is the production worker.
"""

from __future__ import annotations

import sys

from bench._common import install_model_from_env


def main() -> int:
    install_model_from_env()
    from web4os.cli import main as web4os_main

    return web4os_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())

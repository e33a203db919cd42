"""``python -m bench._worker worker …``: the ``web4os worker`` command with the bench's model.

The bench process tells the worker its latency (and scripted plan) through
``BENCH_*`` environment variables; everything else is the production worker.
"""

from __future__ import annotations

import sys

from web4os.cli import prepare  # the standard library only: a gevent worker patches first


def main() -> int:
    args = prepare(sys.argv[1:])
    from bench._common import install_model_from_env

    install_model_from_env()
    code: int = args.fn(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())

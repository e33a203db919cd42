"""``python -m bench._worker worker …``: a Celery worker that uses the bench's model.

The bench process tells the worker its latency (and scripted plan) through
``BENCH_*`` environment variables; everything else is the production worker.
"""

from __future__ import annotations

import sys

from bench._common import install_model_from_env


def main() -> None:
    install_model_from_env()
    from web4os.workers.celery_app import celery

    celery.worker_main(sys.argv[1:])


if __name__ == "__main__":
    main()

"""Dispatch: the job functions, the embedded runner and the Celery app share one code path."""

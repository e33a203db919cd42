"""Goals, plans (task DAGs) and the task state machine."""

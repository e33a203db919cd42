"""Goal templates: a goal's title, brief, settings and files, kept to start goals from."""

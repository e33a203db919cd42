"""Server-rendered pages (Jinja2 + htmx), auth cookies, CSRF, the app factory."""

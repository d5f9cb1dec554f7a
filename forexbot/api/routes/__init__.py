"""Route handlers, one module per resource. Each module exposes a class built with the
collaborators it needs and a ``routes()`` method listing its route definitions."""

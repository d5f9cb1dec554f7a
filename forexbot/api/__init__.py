"""The embedded REST/WebSocket API.

Entry points: :func:`forexbot.api.app.create_app` builds the aiohttp application from
explicitly passed collaborators (:class:`forexbot.api.ports.ApiServices`) and
:class:`forexbot.api.server.ApiServer` runs it. Nothing in this package does work at import
time or keeps module-level state.
"""

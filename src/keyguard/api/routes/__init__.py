"""The routers of the HTTP API; app.ROUTERS lists the ones create_app mounts."""

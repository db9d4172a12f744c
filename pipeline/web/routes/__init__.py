"""The web UI's routes, one router per concern; :func:`pipeline.web.app.create_app` includes them."""

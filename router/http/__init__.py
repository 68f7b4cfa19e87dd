"""The HTTP surface: the app, its routes, auth, body limits, errors, OpenAPI."""

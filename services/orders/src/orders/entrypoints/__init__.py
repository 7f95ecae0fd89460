"""How the world reaches the orders service: the HTTP API and web page, and the CLI."""

"""The demo Covey service: its agents live in `covey_server_app.agents`."""

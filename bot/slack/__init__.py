"""The Slack front end: bolt wiring, payload -> Message, Reply -> Block Kit, and modals."""

"""Front ends, the app that wires everything, the CLI, delivery and scheduling."""

"""Configuration: typed settings from the environment, a .env file or a TOML file."""

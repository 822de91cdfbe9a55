"""The Telegram front end: python-telegram-bot wiring, Update -> Message, Reply -> HTML."""

"""`python -m bot` runs the crm-bot command."""

from bot.cli import main

main()

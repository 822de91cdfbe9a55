"""Language helpers: sentiment, customer lookup, intents and time expressions."""

"""Platform-neutral handlers: a Message in, a Reply out; no chat library is imported here."""

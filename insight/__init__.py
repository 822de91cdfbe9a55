"""Models that are not about language (segments, next products, forecast): pure functions over arrays."""

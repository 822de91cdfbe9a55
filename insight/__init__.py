"""Models over the book that are not about language (segments, next products, forecast): pure
functions and small classes over numpy/scipy arrays, with no SQL and no chat words."""

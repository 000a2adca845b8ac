"""Plain data rendered as HTML text in the reader's language, for replies and pushes alike."""

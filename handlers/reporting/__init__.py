"""Reporting handlers: /report and its reading and comments, /summary, /export."""

"""Reporting: daily reports and their loop upward, summaries, periods, exports and charts."""

"""Intake: spreadsheets of customers, people and receivables, parsed in a sandbox and applied through
the services.
"""

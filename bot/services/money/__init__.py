"""Money: orders, collections, the ledger and what reduces it (returns, credit notes), overdue and
aging, payment methods and finance's reports.
"""

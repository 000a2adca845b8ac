"""Field work: customers, visits and what a visit records (stock, market, grades), prospects, the day's
plan.
"""

"""Field work: customers, visits and what a visit records (stock, market, grades), prospects, the day's
plan, trips by car (the vehicle log).
"""

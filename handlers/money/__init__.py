"""Money handlers: /order, /collect, /return, deposits, /overdue and finance's commands."""

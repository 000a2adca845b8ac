"""Field handlers: visits (one-liner and guided), customers, prospects, grades, market, the day's plan,
/trip and /trips (the vehicle log)."""

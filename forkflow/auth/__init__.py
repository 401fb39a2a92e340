"""Who is asking, and what they may do: staff accounts, sessions, tokens, CSRF, rate limits."""

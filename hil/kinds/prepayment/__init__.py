"""Prepayment (payment meter) kinds: STS tokens, credit, charges and the supply at zero credit."""

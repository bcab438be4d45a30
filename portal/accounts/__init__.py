"""Accounts: invitations and tokens, structures and their référent, access codes."""

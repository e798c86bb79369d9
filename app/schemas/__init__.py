"""Pydantic schemas: what the API accepts and returns, and what services take as input."""

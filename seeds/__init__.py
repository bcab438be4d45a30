"""Data loaders for the product's own data."""

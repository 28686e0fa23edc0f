"""Usage events: one record per authenticated (or failed) request, the PRODUCT.md schema."""

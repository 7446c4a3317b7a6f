"""``python -m bench`` (``make bench``): the import budgets from DESIGN.md §5, measured on this machine."""

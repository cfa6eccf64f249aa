"""Built-in rules, one module per family (see RULES.md for the catalogue)."""

"""Built-in rules, one module per family (registry.BUILTIN_MODULES; the catalogue is
rules/README.md, generated from them)."""

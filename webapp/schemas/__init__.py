"""Form inputs as msgspec Structs, one module per resource: what a page may post, with its limits."""

"""The project config: one YAML file read into typed objects, and its generated reference."""

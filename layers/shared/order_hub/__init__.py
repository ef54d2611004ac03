"""order_hub: the outbound order hub domain package (models, services, ports, adapters)."""

# The project's one version number: pyproject.toml reads it (hatch), and so do the OpenAPI document
# and the callback User-Agent. The layer ships this package without its metadata, so a constant.
__version__ = "0.1.0"

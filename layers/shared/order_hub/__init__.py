"""order_hub: the outbound order hub domain package (models, services, ports, adapters)."""

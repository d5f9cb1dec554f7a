"""The MetaTrader 5 boundary: terminal backends, the simulated terminal and the connector."""

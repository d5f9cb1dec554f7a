"""Market condition detector: sessions, volatility, trend and liquidity analysers."""

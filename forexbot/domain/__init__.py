"""Pure domain types: values that carry no I/O and know nothing of MetaTrader's module."""
